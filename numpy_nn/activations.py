"""Activation functions with hand-derived backward passes.

Every activation maps a batch ``Z`` of shape (n, k) to ``Y = f(Z)`` and its ``backward(Z, dY)``
turns the upstream gradient ``dY = dL/dY`` into ``dL/dZ``. All of them are batched: no loop over
examples, the softmax Jacobian included.
"""

from abc import ABC, abstractmethod

import numpy as np

from numpy_nn.checks import batch, numeric, same_shape


class Activation(ABC):
    """Base class: ``act(Z)`` is ``act.forward(Z)``."""

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        return self.forward(Z)

    @abstractmethod
    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Y = f(Z), elementwise or row-wise."""

    @abstractmethod
    def backward(self, Z: np.ndarray, dY: np.ndarray) -> np.ndarray:
        """dL/dZ from the pre-activation Z and the upstream gradient dY = dL/dY."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _checked(self, Z, dY=None):
        """Z as a numeric array and, given, dY of Z's shape (``numpy_nn.checks``)."""
        name = type(self).__name__
        if dY is None:
            return numeric(Z, f"{name}.forward", "Z")
        Z = numeric(Z, f"{name}.backward", "Z")
        return Z, same_shape(dY, Z, f"{name}.backward")


class Linear(Activation):
    """The identity, f(z) = z."""

    def forward(self, Z):
        Z = self._checked(Z)
        return Z

    def backward(self, Z, dY):
        """f'(z) = 1, so dL/dZ = dY."""
        Z, dY = self._checked(Z, dY)
        return dY


Identity = Linear


class Sigmoid(Activation):
    """f(z) = 1 / (1 + e^{-z}), computed without overflow for large |z|."""

    def forward(self, Z):
        Z = self._checked(Z)
        # For z >= 0 use 1/(1+e^{-z}); for z < 0 use e^{z}/(1+e^{z}); neither exponent overflows.
        e = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def backward(self, Z, dY):
        """f'(z) = f(z) (1 - f(z)), so dL/dZ = dY * s * (1 - s) with s = f(Z)."""
        Z, dY = self._checked(Z, dY)
        s = self.forward(Z)
        return dY * s * (1.0 - s)


class TanH(Activation):
    """f(z) = tanh(z)."""

    def forward(self, Z):
        Z = self._checked(Z)
        return np.tanh(Z)

    def backward(self, Z, dY):
        """f'(z) = 1 - tanh(z)^2, so dL/dZ = dY * (1 - tanh(Z)^2)."""
        Z, dY = self._checked(Z, dY)
        t = np.tanh(Z)
        return dY * (1.0 - t * t)


class ReLU(Activation):
    """f(z) = max(0, z)."""

    def forward(self, Z):
        Z = self._checked(Z)
        return np.maximum(Z, 0)

    def backward(self, Z, dY):
        """f'(z) = 1 if z > 0 else 0 (we take 0 at z = 0), so dL/dZ = dY * [Z > 0].

        The indicator is applied elementwise to the whole batch.
        """
        Z, dY = self._checked(Z, dY)
        return dY * (Z > 0)


class ArcTan(Activation):
    """f(z) = arctan(z)."""

    def forward(self, Z):
        Z = self._checked(Z)
        return np.arctan(Z)

    def backward(self, Z, dY):
        """f'(z) = 1 / (1 + z^2), so dL/dZ = dY / (1 + Z^2)."""
        Z, dY = self._checked(Z, dY)
        return dY / (1.0 + Z * Z)


class SoftMax(Activation):
    """Row-wise softmax, sigma(s)_i = e^{s_i} / sum_j e^{s_j}.

    Stable: subtracting the row maximum changes nothing mathematically (numerator and denominator
    are both scaled by e^{-max}) but keeps every exponent <= 0, so nothing overflows.
    """

    def forward(self, Z):
        Z = batch(Z, "SoftMax.forward", "Z", "(n, k)")
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    def backward(self, Z, dY):
        """Vectorized Jacobian-vector product, one row per example.

        For one row with sigma = softmax(s):
            d sigma_i / d s_j = sigma_i (delta_ij - sigma_j),   i.e.  J = diag(sigma) - sigma sigma^T.
        J is symmetric, so
            dL/ds_j = sum_i dY_i J_ij = sigma_j (dY_j - sum_i dY_i sigma_i).
        For the batch (rows of Z, dY, S = softmax(Z)), with ⊙ elementwise:
            dL/dZ = S ⊙ (dY - rowsum(dY ⊙ S)),
        O(n k) work and memory instead of n Jacobians of k x k.
        """
        Z, dY = self._checked(Z, dY)
        S = self.forward(Z)
        return S * (dY - (dY * S).sum(axis=1, keepdims=True))


_ACTIVATIONS = {
    "linear": Linear,
    "identity": Identity,
    "sigmoid": Sigmoid,
    "tanh": TanH,
    "relu": ReLU,
    "softmax": SoftMax,
    "arctan": ArcTan,
}

ACTIVATION_NAMES = tuple(_ACTIVATIONS)


def initialize_activation(name: str) -> Activation:
    """Build an activation by name: one of ``ACTIVATION_NAMES`` (case-insensitive)."""
    key = str(name).lower()
    if key not in _ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}: choose one of {', '.join(ACTIVATION_NAMES)}"
        )
    return _ACTIVATIONS[key]()

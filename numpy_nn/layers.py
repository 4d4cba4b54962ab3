"""Layers: a base class with ``parameters``, ``gradients`` and ``cache``, and the fully-connected layer.

Shapes: a batch X is (n, n_in), one example per row. Parameters are created lazily on the first
forward pass (``_init_parameters(X_shape)``), so a layer only needs to know its output width.
"""

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from numpy_nn.activations import initialize_activation
from numpy_nn.weights import initialize_weights


class Layer(ABC):
    """Base class. ``parameters``, ``gradients`` and ``cache`` are OrderedDicts keyed by name.

    ``gradients`` has exactly the keys of ``parameters``; ``cache`` holds what ``forward`` saved for
    ``backward``.
    """

    def __init__(self):
        self.activation = None
        self.n_in: int | None = None
        self.n_out: int | None = None
        self.parameters: OrderedDict = OrderedDict()
        self.gradients: OrderedDict = OrderedDict()
        self.cache: OrderedDict = OrderedDict()

    @abstractmethod
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Output of the layer for a batch X."""

    @abstractmethod
    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """Fill ``gradients`` from the upstream gradient dL/dY and return dL/dX."""

    def clear_gradients(self) -> None:
        """Empty the cache and zero every gradient (keeping keys, shapes and dtypes)."""
        self.cache = OrderedDict((k, []) for k in self.cache)
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.gradients.items())

    def forward_with_param(
        self, param_name: str, X: np.ndarray
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Return ``f(value)``: the forward output on X with parameter ``param_name`` set to value.

        Used by the numerical gradient checker. Note that calling ``f`` overwrites the parameter.
        """

        def inner_forward(param_val: np.ndarray) -> np.ndarray:
            self.parameters[param_name] = param_val
            return self.forward(X)

        return inner_forward

    def _get_parameters(self) -> list:
        return list(self.parameters.values())

    def _get_cache(self) -> list:
        return list(self.cache.values())

    def _get_gradients(self) -> list:
        return list(self.gradients.values())


class FullyConnected(Layer):
    """Y = f(Z), Z = X W + b, with W: (n_in, n_out) and b: (1, n_out).

    Parameters take the dtype of the first batch seen (float32 in, float32 out). Weights are drawn
    in float64 and then cast, so a float32 and a float64 layer from the same seed start from the
    same values up to rounding.
    """

    def __init__(
        self,
        n_out: int,
        activation: str,
        weight_init: str = "xavier_uniform",
        seed: int | None = None,
    ):
        super().__init__()
        if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out <= 0:
            raise ValueError(f"n_out must be a positive integer, got {n_out!r}")
        self.n_out = int(n_out)
        self.activation_name = str(activation).lower()
        self.activation = initialize_activation(activation)
        self.weight_init = weight_init
        self.init_weights = initialize_weights(weight_init, activation=activation)
        self.rng = np.random.default_rng(seed)

    def _init_parameters(self, X_shape: tuple, dtype=np.float64) -> None:
        """Create W (n_in x n_out) from the initializer and b = 0 (1 x n_out); zero the gradients."""
        self.n_in = int(X_shape[1])
        W = self.init_weights((self.n_in, self.n_out), rng=self.rng).astype(dtype, copy=False)
        b = np.zeros((1, self.n_out), dtype=dtype)
        self.parameters = OrderedDict([("W", W), ("b", b)])
        self.cache = OrderedDict([("X", []), ("Z", [])])
        self.gradients = OrderedDict([("W", np.zeros_like(W)), ("b", np.zeros_like(b))])

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Z = X W + b (b broadcast over the rows), Y = f(Z); caches X and Z for backward."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"FullyConnected expects a 2-D batch (n, n_in), got shape {X.shape}")
        if self.n_in is None:
            if not np.issubdtype(X.dtype, np.floating):
                X = X.astype(np.float64)
            self._init_parameters(X.shape, X.dtype)
        W, b = self.parameters["W"], self.parameters["b"]
        if X.shape[1] != W.shape[0]:
            raise ValueError(
                f"shape mismatch: input has {X.shape[1]} features but the layer expects {W.shape[0]} "
                f"(W is {W.shape}); pass batches of shape (n, {W.shape[0]})"
            )
        if X.dtype != W.dtype:
            X = X.astype(W.dtype)
        Z = X @ W + b
        self.cache["X"] = X
        self.cache["Z"] = Z
        return self.activation(Z)

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """Gradients for the batch, given dY = dL/dY of shape (n, n_out).

        With dZ = f'(Z) ⊙ dY (the activation's backward) and Z = X W + 1 b, so that
        Z_ij = sum_k X_ik W_kj + b_j:
            dL/dW_kj = sum_i X_ik dZ_ij     ->  dW = X^T dZ        (n_in x n_out)
            dL/db_j  = sum_i dZ_ij          ->  db = 1^T dZ        (1 x n_out, the column sums)
            dL/dX_ik = sum_j dZ_ij W_kj     ->  dX = dZ W^T        (n x n_in)
        The sums over i add up every example's contribution; the loss already carries the 1/n.
        """
        X, Z = self.cache["X"], self.cache["Z"]
        if isinstance(X, list):
            raise RuntimeError("backward called before forward: run forward on a batch first")
        dZ = self.activation.backward(Z, dLdY)
        self.gradients["W"] = X.T @ dZ
        self.gradients["b"] = dZ.sum(axis=0, keepdims=True)
        return dZ @ self.parameters["W"].T


_LAYERS = {"fully_connected": FullyConnected}


def initialize_layer(
    name: str,
    activation: str | None = None,
    weight_init: str | None = None,
    n_out: int | None = None,
    seed: int | None = None,
    **kwargs,
) -> Layer:
    """Build a layer by ``name`` (``"fully_connected"``) with the given options."""
    key = str(name).lower()
    if key not in _LAYERS:
        raise ValueError(f"unknown layer {name!r}: choose one of {', '.join(_LAYERS)}")
    if kwargs:
        raise ValueError(f"unexpected options for layer {name!r}: {', '.join(kwargs)}")
    return FullyConnected(
        n_out=n_out,
        activation=activation if activation is not None else "linear",
        weight_init=weight_init if weight_init is not None else "xavier_uniform",
        seed=seed,
    )

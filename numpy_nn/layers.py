"""Layers, and ``initialize_layer`` to build any of them by name.

Here: the fully-connected layer and Flatten. Image layers (batches are NHWC) live in ``conv``
(Conv2D, Pool2D), ``normalization`` (BatchNorm1D, BatchNorm2D) and ``regularization`` (Dropout);
the base class ``Layer`` in ``base``. Parameters are created lazily on the first forward pass
(``_init_parameters(X_shape)``), so a layer only needs to know its output width.
"""

from collections import OrderedDict

import numpy as np

from numpy_nn.base import Layer, WeightedLayer


class FullyConnected(WeightedLayer):
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
        super().__init__(n_out, activation, weight_init, seed)

    def _init_parameters(self, X_shape: tuple, dtype=np.float64) -> None:
        """Create W (n_in x n_out) from the initializer and b = 0 (1 x n_out); zero the gradients."""
        self.n_in = int(X_shape[1])
        W = self.init_weights((self.n_in, self.n_out), rng=self.rng).astype(dtype, copy=False)
        self._set_weights(W, np.zeros((1, self.n_out), dtype=dtype), ("X", "Z"))

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
        Z = X @ W
        Z += b  # in place: one (n, n_out) array fewer per call
        self.cache["X"] = X
        self.cache["Z"] = Z
        return self.activation(Z)

    skips_input_gradient = True

    def backward(self, dLdY: np.ndarray, input_gradient: bool = True) -> np.ndarray | None:
        """Gradients for the batch, given dY = dL/dY of shape (n, n_out).

        With dZ = f'(Z) ⊙ dY (the activation's backward) and Z = X W + 1 b, so that
        Z_ij = sum_k X_ik W_kj + b_j:
            dL/dW_kj = sum_i X_ik dZ_ij     ->  dW = X^T dZ        (n_in x n_out)
            dL/db_j  = sum_i dZ_ij          ->  db = 1^T dZ        (1 x n_out, the column sums)
            dL/dX_ik = sum_j dZ_ij W_kj     ->  dX = dZ W^T        (n x n_in)
        The sums over i add up every example's contribution; the loss already carries the 1/n.
        ``input_gradient=False`` skips dX (returns None): the first layer's input is the data.
        """
        X, Z = self.cache["X"], self.cache["Z"]
        if isinstance(X, list):
            raise RuntimeError("backward called before forward: run forward on a batch first")
        dZ = self.activation.backward(Z, dLdY)
        self.gradients["W"] = X.T @ dZ
        self.gradients["b"] = dZ.sum(axis=0, keepdims=True)
        return dZ @ self.parameters["W"].T if input_gradient else None


class Flatten(Layer):
    """(n, d1, d2, ...) -> (n, d1 d2 ...), row-major (NHWC images flatten height, width, channel);
    backward reshapes the gradient back (docs/derivations.md, section 8)."""

    def __init__(self):
        super().__init__()
        self.cache = OrderedDict([("shape", [])])

    def forward(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim < 2:
            raise ValueError(f"Flatten expects a batch (n, ...), got shape {X.shape}")
        self.cache["shape"] = X.shape
        self.n_out = int(np.prod(X.shape[1:]))
        return X.reshape(len(X), -1)

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        shape = self.cache["shape"]
        if isinstance(shape, list):
            raise RuntimeError("backward called before forward: run forward on a batch first")
        return dLdY.reshape(shape)


def _layers() -> dict:
    from numpy_nn.conv import Conv2D, Pool2D
    from numpy_nn.normalization import BatchNorm1D, BatchNorm2D
    from numpy_nn.regularization import Dropout

    return {
        "fully_connected": FullyConnected,
        "conv2d": Conv2D,
        "pool2d": Pool2D,
        "flatten": Flatten,
        "batchnorm1d": BatchNorm1D,
        "batchnorm2d": BatchNorm2D,
        "dropout": Dropout,
    }


SEEDED = ("fully_connected", "conv2d", "dropout")  # the layers that draw random numbers


def initialize_layer(name: str, seed: int | None = None, **kwargs) -> Layer:
    """Build a layer by ``name`` from its options, e.g. ``initialize_layer("conv2d", n_out=16,
    kernel_shape=3, activation="relu")``. Names: fully_connected, conv2d, pool2d, flatten,
    batchnorm1d, batchnorm2d, dropout. ``seed`` goes to the layers that draw random numbers."""
    import inspect

    layers = _layers()
    key = str(name).lower()
    if key not in layers:
        raise ValueError(f"unknown layer {name!r}: choose one of {', '.join(layers)}")
    if key == "fully_connected":  # the handout's defaults
        kwargs.setdefault("activation", "linear")
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k == "n_out"}
    params = inspect.signature(layers[key]).parameters
    accepted = set(params) - {"seed"}
    missing = [k for k, v in params.items() if v.default is v.empty and kwargs.get(k) is None]
    if missing:
        raise ValueError(f"layer {name!r} needs {', '.join(missing)}")
    unexpected = sorted(set(kwargs) - accepted)
    if unexpected:
        raise ValueError(
            f"unexpected options for layer {name!r}: {', '.join(unexpected)} "
            f"(it takes {', '.join(sorted(accepted)) or 'none'})"
        )
    if key in SEEDED:
        kwargs["seed"] = seed
    return layers[key](**kwargs)

"""Every layer, and ``initialize_layer`` to build any of them by name.

As in the handout, every layer is importable from here (``from numpy_nn.layers import Conv2D``).
Defined here: the fully-connected layer and Flatten. The image layers (batches are NHWC) are
written in ``conv`` (Conv2D, Pool2D), ``normalization`` (BatchNorm1D, BatchNorm2D) and
``regularization`` (Dropout), the recurrent layer in ``recurrent`` (Elman), the base class ``Layer`` in ``base``. Parameters are created lazily
on the first forward pass (``_init_parameters(X_shape)``), so a layer only needs to know its
output width.
"""

import inspect
from collections import OrderedDict

import numpy as np

from numpy_nn import threads
from numpy_nn.base import Layer, WeightedLayer
from numpy_nn.checks import batch, numeric, same_shape, saved
from numpy_nn.conv import Conv2D, Pool2D
from numpy_nn.normalization import BatchNorm1D, BatchNorm2D
from numpy_nn.recurrent import Elman
from numpy_nn.regularization import Dropout

__all__ = [
    "Layer",
    "FullyConnected",
    "Conv2D",
    "Pool2D",
    "Flatten",
    "BatchNorm1D",
    "BatchNorm2D",
    "Dropout",
    "Elman",
    "initialize_layer",
]


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
        X = batch(X, "FullyConnected.forward", "X", "(n, n_in)")
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
        Z = threads.matmul(X, W)
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
        X, Z = saved(self, "X", "Z")
        dLdY = same_shape(dLdY, Z, "FullyConnected.backward", "dLdY", "the output")
        dZ = self.activation.backward(Z, dLdY)
        if self.trainable:  # a frozen layer keeps no parameter gradient
            self.gradients["W"] = threads.matmul(X.T, dZ)
            self.gradients["b"] = dZ.sum(axis=0, keepdims=True)
        return threads.matmul(dZ, self.parameters["W"].T) if input_gradient else None


class Flatten(Layer):
    """Reshape a batch, row-major (NHWC images flatten height, width, channel); backward
    reshapes the gradient back (docs/derivations.md, section 8). ``keep_dim`` is the handout's:
    ``"first"`` (n, d1, d2, ...) -> (n, d1 d2 ...); ``"last"`` -> (n d1 ..., d_last); ``-1`` ->
    (1, everything)."""

    def __init__(self, keep_dim="first"):
        super().__init__()
        if keep_dim not in ("first", "last", -1):
            raise ValueError(f"keep_dim must be 'first', 'last' or -1, got {keep_dim!r}")
        self.keep_dim = keep_dim
        self.cache = OrderedDict([("in_dims", [])])

    def forward(self, X: np.ndarray, retain_derived: bool = True) -> np.ndarray:
        """``retain_derived`` is the handout's flag; the input's shape is always kept (it is
        all backward needs)."""
        X = numeric(X, "Flatten.forward", "X")
        if X.ndim < 2:
            raise ValueError(f"Flatten expects a batch (n, ...), got shape {X.shape}")
        self.cache["in_dims"] = X.shape
        if self.keep_dim == "first":
            Y = X.reshape(len(X), -1)
        elif self.keep_dim == "last":
            Y = X.reshape(-1, X.shape[-1])
        else:
            Y = X.reshape(1, -1)
        self.n_out = Y.shape[1]
        return Y

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        (shape,) = saved(self, "in_dims")
        dLdY = numeric(dLdY, "Flatten.backward", "dLdY")
        if dLdY.size != np.prod(shape):
            raise ValueError(
                f"Flatten.backward: dLdY has shape {dLdY.shape} ({dLdY.size} entries) but the"
                f" input had shape {shape}; pass the gradient of the flattened output"
            )
        return dLdY.reshape(shape)


LAYERS = {
    "fully_connected": FullyConnected,
    "conv2d": Conv2D,
    "pool2d": Pool2D,
    "flatten": Flatten,
    "batchnorm1d": BatchNorm1D,
    "batchnorm2d": BatchNorm2D,
    "dropout": Dropout,
    "elman": Elman,
}

# The handout's initialize_layer keywords and their defaults. Its NeuralNetwork passes a layer's
# whole AttrDict through it, so a key a layer does not take is fine at this default.
HANDOUT_DEFAULTS = {
    "activation": None,
    "weight_init": None,
    "n_out": None,
    "kernel_shape": None,
    "stride": None,
    "pad": None,
    "mode": None,
    "keep_dim": "first",
    "eps": 1e-8,
    "momentum": 0.95,
}


def initialize_layer(
    name: str, seed: int | None = None, trainable: bool = True, **options
) -> Layer:
    """Build a layer by ``name`` (``LAYERS``: fully_connected, conv2d, pool2d, flatten,
    batchnorm1d; and ours: batchnorm2d, dropout) from the handout's keywords, e.g.
    ``initialize_layer("conv2d", n_out=16, kernel_shape=3, activation="relu")``.

    As in the handout: a keyword left None takes the layer's default, and a keyword the layer
    does not use is accepted at its ``HANDOUT_DEFAULTS`` value (so one AttrDict of every key
    builds any layer); batch norm built here defaults to ``eps=1e-8, momentum=0.95``. A
    keyword the layer does not use, set to anything else, is an error. ``seed`` goes to the
    layers that take one (those that draw random numbers). ``trainable=False`` (ours) freezes
    the layer (``Layer.trainable``): its parameters are used, never learned.
    """
    if not isinstance(trainable, bool):
        raise ValueError(f"trainable must be true or false, got {trainable!r}")
    key = str(name).lower()
    if key not in LAYERS:
        raise ValueError(f"unknown layer {name!r}: choose one of {', '.join(LAYERS)}")
    cls = LAYERS[key]
    params = inspect.signature(cls).parameters
    given = {**HANDOUT_DEFAULTS, **options}
    if key == "fully_connected" and given["activation"] is None:
        given["activation"] = "linear"  # the handout's default for a dense layer
    unused = sorted(
        k
        for k, v in given.items()
        if k not in params and not (k in HANDOUT_DEFAULTS and _same(v, HANDOUT_DEFAULTS[k]))
    )
    if unused:
        raise ValueError(
            f"unexpected options for layer {name!r}: {', '.join(unused)} "
            f"(it takes {', '.join(k for k in params if k != 'seed') or 'none'})"
        )
    kwargs = {k: v for k, v in given.items() if k in params and v is not None}
    missing = [k for k, p in params.items() if p.default is p.empty and k not in kwargs]
    if missing:
        raise ValueError(f"layer {name!r} needs {', '.join(missing)}")
    if "seed" in params:
        kwargs["seed"] = seed
    layer = cls(**kwargs)
    if not trainable:
        layer.trainable = False
    return layer


def _same(value, default) -> bool:
    return (
        value is None if default is None else isinstance(value, type(default)) and value == default
    )

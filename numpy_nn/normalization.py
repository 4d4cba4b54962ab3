"""Batch normalization: BatchNorm1D for (n, c) batches, BatchNorm2D for NHWC images (statistics
per channel, over n, height and width). Derivation: docs/derivations.md, section 9."""

from collections import OrderedDict

import numpy as np

from numpy_nn.base import Layer
from numpy_nn.checks import numeric, same_shape, saved
from numpy_nn.utils import seed_or_global
from numpy_nn.weights import initialize_weights


class BatchNorm1D(Layer):
    """Y = gamma ⊙ X_hat + beta, X_hat = (X - mu) / sqrt(var + eps), per channel (last axis).

    The handout's conventions (spring 2025):

    - training: mu and var are the batch's (the biased variance), and the running statistics
      are an exponential moving average in which ``momentum`` weighs the past,
      ``running = momentum * running + (1 - momentum) * batch`` (PyTorch's ``momentum`` is the
      weight of the batch: ours 0.9 is its 0.1);
    - evaluation (``set_mode("test")``, or ``forward(X, mode="test")`` for one call): the
      running statistics are used;
    - ``cache`` holds ``X``, ``X_hat``, ``mu``, ``var`` of the last forward (backward reads them,
      so a test may set them by hand) and ``running_mu``, ``running_var`` (which
      ``clear_gradients`` keeps).

    gamma starts at ``weight_init`` (ones: the layer starts as a plain normalization), beta at 0,
    the running mean at 0 and the running variance at 1.
    """

    running_keys = ("running_mu", "running_var")

    def __init__(
        self,
        weight_init: str = "ones",
        eps: float = 1e-8,
        momentum: float = 0.9,
        seed: int | None = None,
        n_in: int | None = None,
    ):
        """``n_in``: the number of channels, when known before the first batch (the batch-norm
        semester's keyword; None, its default, learns it from the first batch)."""
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.eps, self.momentum = float(eps), float(momentum)
        self.init_weights = initialize_weights(weight_init)
        self.rng = np.random.default_rng(seed_or_global(seed))
        if n_in is not None:
            if not (isinstance(n_in, (int, np.integer)) and n_in > 0):
                raise ValueError(f"n_in must be a positive number of channels, got {n_in!r}")
            self._init_parameters((1, int(n_in)))

    def _axes(self, X: np.ndarray) -> tuple:
        if X.ndim != 2:
            raise ValueError(f"BatchNorm1D expects a batch (n, channels), got shape {X.shape}")
        return (0,)

    def _init_parameters(self, X_shape: tuple, dtype=np.float64) -> None:
        """gamma from ``weight_init``, beta = 0, running mean 0 and variance 1, all (1, channels)."""
        self.n_in = self.n_out = int(X_shape[-1])
        shape = (1, self.n_in)
        gamma = self.init_weights(shape, rng=self.rng).astype(dtype)
        self.parameters = OrderedDict([("gamma", gamma), ("beta", np.zeros(shape, dtype))])
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.parameters.items())
        self.cache = OrderedDict(
            [("X", []), ("X_hat", []), ("mu", []), ("var", []), ("mode", "train")]
            + [("running_mu", np.zeros(shape, dtype)), ("running_var", np.ones(shape, dtype))]
        )

    def clear_gradients(self) -> None:
        """As every layer's, but the running statistics stay."""
        running = {k: self.cache[k] for k in self.running_keys}
        super().clear_gradients()
        self.cache.update(running)

    def forward(self, X: np.ndarray, mode: str | None = None) -> np.ndarray:
        """``mode``: ``"train"`` or ``"test"`` for this call; None follows ``set_mode``."""
        X = numeric(X, f"{type(self).__name__}.forward", "X")
        self._axes(X)  # refuses a batch of the wrong rank
        if self.n_in is None:
            if not np.issubdtype(X.dtype, np.floating):
                X = X.astype(np.float64)
            self._init_parameters(X.shape, X.dtype)
        if X.shape[-1] != self.n_in:
            raise ValueError(
                f"{type(self).__name__}: input has {X.shape[-1]} channels but the layer expects "
                f"{self.n_in}"
            )
        if mode not in (None, "train", "test"):
            raise ValueError(f"unknown mode {mode!r}: choose 'train' or 'test'")
        training = self.training if mode is None else mode == "train"
        gamma, beta = self.parameters["gamma"], self.parameters["beta"]
        X = X.astype(gamma.dtype, copy=False)
        cache = self.cache
        X2 = X.reshape(-1, self.n_in)  # one row per value of every channel: (m, channels)
        if training:
            if len(X2) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than one value per channel to train, got "
                    f"input of shape {X.shape}"
                )
            mu = _channel_sums(X2) / len(X2)
            X_hat = X2 - mu  # centred first, then the variance from it (the two-pass form)
            var = np.einsum("ij,ij->j", X_hat, X_hat) / len(X2)
            mu, var = mu.reshape(1, -1), var.reshape(1, -1)
            m = self.momentum
            cache["running_mu"] = m * cache["running_mu"] + (1 - m) * mu
            cache["running_var"] = m * cache["running_var"] + (1 - m) * var
        else:
            mu, var = cache["running_mu"], cache["running_var"]
            X_hat = X2 - mu
        X_hat *= 1.0 / np.sqrt(var + self.eps)
        X_hat = X_hat.reshape(X.shape)
        cache["X"], cache["X_hat"], cache["mu"], cache["var"] = X, X_hat, mu, var
        cache["mode"] = "train" if training else "test"
        Y = X_hat * gamma.reshape(-1)
        Y += beta.reshape(-1)
        return Y

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """dgamma = sum(dY ⊙ X_hat), dbeta = sum(dY) over every axis but the channel's, and, with
        the mean over those m values written <.>, the compact form
            dX = gamma / sqrt(var + eps) ⊙ (dY - <dY> - X_hat ⊙ <dY ⊙ X_hat>)
        (the two subtracted terms are the paths through mu and var). The two means are
        dbeta / m and dgamma / m, so the sums are made once; with s = gamma / sqrt(var + eps),
        dX = X_hat ⊙ (-s dgamma / m) - s dbeta / m + s ⊙ dY, three passes over the batch. After
        a forward in evaluation mode mu and var are constants: dX = gamma / sqrt(var + eps) ⊙ dY."""
        X_hat, var = saved(self, "X_hat", "var")
        dLdY = same_shape(dLdY, X_hat, f"{type(self).__name__}.backward", "dLdY", "the output")
        c = self.n_in
        dY2, X_hat2 = dLdY.reshape(-1, c), np.reshape(X_hat, (-1, c))
        scale = self.parameters["gamma"].reshape(-1) / np.sqrt(np.reshape(var, -1) + self.eps)
        dgamma = np.einsum("ij,ij->j", dY2, X_hat2)  # sum(dY ⊙ X_hat), no temporary
        dbeta = _channel_sums(dY2)
        if self.trainable:  # frozen: dgamma and dbeta serve dX only
            self.gradients["gamma"], self.gradients["beta"] = (
                dgamma.reshape(1, -1),
                dbeta.reshape(1, -1),
            )
        if self.cache.get("mode", "train") == "test":
            return dLdY * scale
        m = len(dY2)  # <dY> = dbeta / m and <dY ⊙ X_hat> = dgamma / m
        dX = X_hat2 * (-scale * dgamma / m)
        dX += -scale * dbeta / m
        dX += dY2 * scale
        return dX.reshape(dLdY.shape)


def _channel_sums(A: np.ndarray) -> np.ndarray:
    """The column sums of an (m, channels) array, as one matrix-vector product 1^T A (BLAS, on
    every core: several times numpy's ``sum(axis=0)`` on these shapes)."""
    return np.ones(len(A), dtype=A.dtype) @ A


class BatchNorm2D(BatchNorm1D):
    """BatchNorm over NHWC images: one mean and variance per channel, over n, height and width
    (not in the handout; the same conventions as BatchNorm1D)."""

    def _axes(self, X: np.ndarray) -> tuple:
        if X.ndim != 4:
            raise ValueError(
                f"BatchNorm2D expects an NHWC image batch (n, height, width, channels), got shape "
                f"{X.shape}"
            )
        return (0, 1, 2)

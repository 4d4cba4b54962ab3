"""Batch normalization: BatchNorm1D for (n, c) batches, BatchNorm2D for NHWC images (statistics
per channel, over n, height and width). Derivation: docs/derivations.md, section 9."""

from collections import OrderedDict

import numpy as np

from numpy_nn.base import Layer


class BatchNorm1D(Layer):
    """Y = gamma ⊙ X_hat + beta, X_hat = (X - mu) / sqrt(var + eps), per channel (last axis).

    Training: mu and var are the batch's (biased variance, as PyTorch), and the running
    statistics move towards them, running = (1 - momentum) running + momentum batch (the running
    variance from the unbiased batch variance, as PyTorch). Evaluation (``set_mode("test")``, or
    ``forward(X, mode="test")`` as in the course's handout): the running statistics are used.
    """

    def __init__(self, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.eps, self.momentum = float(eps), float(momentum)
        self.running: OrderedDict = OrderedDict()

    def _axes(self, X: np.ndarray) -> tuple:
        if X.ndim != 2:
            raise ValueError(f"BatchNorm1D expects a batch (n, channels), got shape {X.shape}")
        return (0,)

    def _init_parameters(self, X_shape: tuple, dtype=np.float64) -> None:
        """gamma = 1, beta = 0, running mean 0 and variance 1, all of shape (1, channels)."""
        self.n_in = self.n_out = int(X_shape[-1])
        shape = (1, self.n_in)
        self.parameters = OrderedDict(
            [("gamma", np.ones(shape, dtype)), ("beta", np.zeros(shape, dtype))]
        )
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.parameters.items())
        self.running = OrderedDict(
            [("mean", np.zeros(shape, dtype)), ("var", np.ones(shape, dtype))]
        )
        self.cache = OrderedDict([("X_hat", []), ("inv_std", []), ("training", [])])

    def forward(self, X: np.ndarray, mode: str | None = None) -> np.ndarray:
        X = np.asarray(X)
        axes = self._axes(X)
        if self.n_in is None:
            if not np.issubdtype(X.dtype, np.floating):
                X = X.astype(np.float64)
            self._init_parameters(X.shape, X.dtype)
        if X.shape[-1] != self.n_in:
            raise ValueError(
                f"{type(self).__name__}: input has {X.shape[-1]} channels but the layer expects "
                f"{self.n_in}"
            )
        if mode is not None:
            self.set_mode(mode)
        gamma, beta = self.parameters["gamma"], self.parameters["beta"]
        X = X.astype(gamma.dtype, copy=False)
        shape = (1,) * (X.ndim - 1) + (self.n_in,)
        if self.training:
            n = X.size // self.n_in
            if n < 2:
                raise ValueError(
                    f"{type(self).__name__} needs more than one value per channel to train, got "
                    f"input of shape {X.shape}"
                )
            mean = X.mean(axis=axes).reshape(shape)
            var = X.var(axis=axes).reshape(shape)
            m = self.momentum
            self.running["mean"] = (1 - m) * self.running["mean"] + m * mean.reshape(1, -1)
            unbiased = var.reshape(1, -1) * n / (n - 1)
            self.running["var"] = (1 - m) * self.running["var"] + m * unbiased
        else:
            mean = self.running["mean"].reshape(shape)
            var = self.running["var"].reshape(shape)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        X_hat = (X - mean) * inv_std
        self.cache["X_hat"], self.cache["inv_std"], self.cache["training"] = (
            X_hat,
            inv_std,
            self.training,
        )
        return X_hat * gamma.reshape(shape) + beta.reshape(shape)

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """dgamma = sum(dY ⊙ X_hat), dbeta = sum(dY) over every axis but the channel's, and, with
        the mean over those m values written <.>, the compact form
            dX = gamma / sqrt(var + eps) ⊙ (dY - <dY> - X_hat ⊙ <dY ⊙ X_hat>)
        (the two subtracted terms are the paths through mu and var). In evaluation mode mu and
        var are constants: dX = gamma / sqrt(var + eps) ⊙ dY."""
        X_hat, inv_std = self.cache["X_hat"], self.cache["inv_std"]
        if isinstance(X_hat, list):
            raise RuntimeError("backward called before forward: run forward on a batch first")
        axes = tuple(range(dLdY.ndim - 1))
        shape = (1,) * (dLdY.ndim - 1) + (self.n_in,)
        gamma = self.parameters["gamma"].reshape(shape)
        self.gradients["gamma"] = (dLdY * X_hat).sum(axis=axes).reshape(1, -1)
        self.gradients["beta"] = dLdY.sum(axis=axes).reshape(1, -1)
        if not self.cache["training"]:
            return dLdY * gamma * inv_std
        mean_dy = dLdY.mean(axis=axes, keepdims=True)
        mean_dy_xhat = (dLdY * X_hat).mean(axis=axes, keepdims=True)
        return gamma * inv_std * (dLdY - mean_dy - X_hat * mean_dy_xhat)


class BatchNorm2D(BatchNorm1D):
    """BatchNorm over NHWC images: one mean and variance per channel, over n, height and width."""

    def _axes(self, X: np.ndarray) -> tuple:
        if X.ndim != 4:
            raise ValueError(
                f"BatchNorm2D expects an NHWC image batch (n, height, width, channels), got shape "
                f"{X.shape}"
            )
        return (0, 1, 2)

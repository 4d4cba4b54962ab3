"""Losses: a scalar from targets Y and predictions Y_hat, both (n, k), and its gradient w.r.t. Y_hat.

Both losses are means over the batch, so the 1/n lives here and nowhere else in the network.
"""

from abc import ABC, abstractmethod

import numpy as np

from numpy_nn.checks import numeric


def _check_pair(Y, Y_hat, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Y and Y_hat as numeric arrays of one shape (n, k), n >= 1."""
    Y, Y_hat = numeric(Y, where, "Y"), numeric(Y_hat, where, "Y_hat")
    if Y.shape != Y_hat.shape:
        raise ValueError(
            f"{where}: shape mismatch: targets Y are {Y.shape} but predictions Y_hat are "
            f"{Y_hat.shape}; both must be (n_examples, n_classes)"
        )
    if Y.ndim != 2 or Y.shape[0] == 0:
        raise ValueError(f"{where}: expected a non-empty 2-D batch (n, k), got shape {Y.shape}")
    return Y, Y_hat


class Loss(ABC):
    """Base class: ``loss(Y, Y_hat)`` is ``loss.forward(Y, Y_hat)``."""

    def __call__(self, Y: np.ndarray, Y_hat: np.ndarray) -> float:
        return self.forward(Y, Y_hat)

    @abstractmethod
    def forward(self, Y: np.ndarray, Y_hat: np.ndarray) -> float:
        """The loss, averaged over the batch."""

    @abstractmethod
    def backward(self, Y: np.ndarray, Y_hat: np.ndarray) -> np.ndarray:
        """dL/dY_hat, same shape as Y_hat."""


class CrossEntropy(Loss):
    """L = -(1/n) sum_i sum_k Y_ik log(Y_hat_ik), for one-hot rows Y and probability rows Y_hat.

    ``Y_hat`` is clipped from below at ``eps`` (tiny, 1e-300 in float64 and 1e-38 in float32) so a
    predicted probability of exactly 0 gives a large finite loss and gradient instead of inf/NaN;
    above ``eps`` the loss is exact.
    """

    def __init__(self, name: str = "cross_entropy", check_one_hot: bool = True):
        self.name = name
        self.check_one_hot = check_one_hot

    @staticmethod
    def _eps(Y_hat):
        return np.finfo(Y_hat.dtype).tiny if np.issubdtype(Y_hat.dtype, np.floating) else 1e-300

    def _validate(self, Y, Y_hat, where):
        Y, Y_hat = _check_pair(Y, Y_hat, where)
        if self.check_one_hot and not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1)):
            raise ValueError(
                "Y is not one-hot: every row of the targets must hold a single 1 and zeros elsewhere "
                "(convert integer labels with numpy_nn.utils.one_hot)"
            )
        return Y, Y_hat

    def forward(self, Y, Y_hat):
        Y, Y_hat = self._validate(Y, Y_hat, "CrossEntropy.forward")
        n = Y.shape[0]
        log_p = np.log(np.maximum(Y_hat, self._eps(Y_hat)))
        return float(-np.sum(Y * log_p) / n)

    def backward(self, Y, Y_hat):
        """dL/dY_hat_ik = -(1/n) Y_ik / Y_hat_ik.

        Only the term with k = the true class depends on Y_hat_ik, and d/dp (-log p) = -1/p; the
        mean over the batch contributes 1/n. Entries where Y_ik = 0 get gradient 0 (and so do
        not divide by a possibly-zero Y_hat_ik).
        """
        Y, Y_hat = self._validate(Y, Y_hat, "CrossEntropy.backward")
        n = Y.shape[0]
        return -Y / (n * np.maximum(Y_hat, self._eps(Y_hat)))


class L2(Loss):
    """Squared error, the course's convention: L = (1/(2n)) sum_i ||Y_hat_i - Y_i||^2.

    The squared error is summed over the k outputs of an example, halved (so that its gradient
    carries no factor 2) and averaged over the n examples. PyTorch's
    ``MSELoss(reduction="mean")`` divides by n k instead: ours is k/2 times that.
    """

    def __init__(self, name: str = "l2"):
        self.name = name

    def forward(self, Y, Y_hat):
        Y, Y_hat = _check_pair(Y, Y_hat, "L2.forward")
        D = Y_hat - Y
        return float(np.sum(D * D) / (2 * Y.shape[0]))

    def backward(self, Y, Y_hat):
        """dL/dY_hat_ik = (1/(2n)) 2 (Y_hat_ik - Y_ik) = (Y_hat_ik - Y_ik) / n: the 1/2 cancels
        the square's 2."""
        Y, Y_hat = _check_pair(Y, Y_hat, "L2.backward")
        return (Y_hat - Y) / Y.shape[0]


_LOSSES = {"cross_entropy": CrossEntropy, "l2": L2, "mse": L2}


def initialize_loss(name: str) -> Loss:
    """Build a loss by name: ``cross_entropy``, or ``l2`` (alias ``mse``)."""
    key = str(name).lower()
    if key not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(_LOSSES)}")
    return _LOSSES[key](key)

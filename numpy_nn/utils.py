"""The handout's helpers: ``AttrDict``, one-hot labels, centring and scaling, and the numerical
gradient check the course's notebook prints (``check_gradients``).

Unlike the handout's ``normalize`` and ``standardize``, these return new arrays and leave their
input alone (the handout's subtract in place, which fails on integer arrays and surprises a
caller that keeps the original).
"""

from collections.abc import Callable

import numpy as np


class AttrDict(dict):
    """A dict whose keys are also attributes: ``args.lr`` is ``args["lr"]`` (the handout's
    scripts describe layers, optimizers, models and data this way)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"no key {key!r} (keys: {', '.join(map(str, self))})") from None

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None


def seed_or_global(seed: int | None) -> int:
    """``seed``, or when it is None one drawn from numpy's legacy global generator: code written
    the handout's way fixes its randomness with ``np.random.seed(...)``, and this keeps that
    true for everything seeded here (weights, batch orders, dropout masks)."""
    if seed is not None:
        return seed
    return int(np.random.randint(0, 2**31 - 1))  # noqa: NPY002 (the handout's global seed)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n,) integer labels -> (n, n_classes) float64 one-hot rows."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}"
        )
    Y = np.zeros((labels.size, n_classes))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def integers_to_one_hot(integer_vector: np.ndarray, max_val: int | None = None) -> np.ndarray:
    """The handout's one-hot: ``max_val + 1`` columns (``max_val`` is the largest label, by
    default the largest one present); singleton axes of ``integer_vector`` are squeezed."""
    labels = np.atleast_1d(np.squeeze(np.asarray(integer_vector)))
    if max_val is None:
        max_val = int(labels.max()) if labels.size else 0
    return one_hot(labels, int(max_val) + 1)


def center(X: np.ndarray, axis: int = 0) -> np.ndarray:
    """X minus its mean along ``axis``."""
    X = np.asarray(X, dtype=float)
    return X - X.mean(axis=axis, keepdims=True)


def normalize(X: np.ndarray, axis: int = 0, max_val: float | None = None) -> np.ndarray:
    """X shifted so its minimum along ``axis`` is 0, then divided by ``max_val`` or, by default,
    by the shifted maximum (so the values span [0, 1])."""
    X = np.asarray(X, dtype=float)
    X = X - X.min(axis=axis, keepdims=True)
    return X / (X.max(axis=axis, keepdims=True) if max_val is None else max_val)


def standardize(X: np.ndarray, axis: int = 0) -> np.ndarray:
    """(X - mean) / (std + 1e-10) along ``axis``: zero mean, unit variance (a constant column
    stays 0 instead of dividing by zero)."""
    X = np.asarray(X, dtype=float)
    return (X - X.mean(axis=axis, keepdims=True)) / (X.std(axis=axis, keepdims=True) + 1e-10)


def numerical_gradient(
    fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dLdf: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central differences of L = sum(fn(x) ⊙ dLdf), entry by entry of x:

        dL/dx_j ≈ sum((fn(x + h e_j) - fn(x - h e_j)) ⊙ dLdf) / (2h),

    the chain rule through the upstream gradient dLdf. x (a float array) is perturbed in place
    and restored; the estimate has x's dtype.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float array, got {getattr(x, 'dtype', type(x).__name__)}")
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):  # one probe per entry of x: inherent to finite differences
        old = x[j]
        x[j] = old + h
        plus = np.array(fn(x), copy=True)
        x[j] = old - h
        minus = np.array(fn(x), copy=True)
        x[j] = old
        grad[j] = np.sum((plus - minus) * dLdf) / (2.0 * h)
    return grad


def check_gradients(
    fn: Callable[[np.ndarray], np.ndarray],
    grad: np.ndarray,
    x: np.ndarray,
    dLdf: np.ndarray,
    h: float = 1e-6,
) -> float:
    """The handout's check: ``||numgrad - grad|| / ||numgrad + grad||``, numgrad the central
    differences of ``fn`` at ``x`` chained through ``dLdf`` (``numerical_gradient``); ``grad``
    is the analytic gradient to check. Near 1e-8 or below in float64 means they agree."""
    numgrad = numerical_gradient(fn, x, dLdf, h)
    return float(np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad))

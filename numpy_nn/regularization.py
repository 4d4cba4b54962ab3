"""Dropout. Derivation: docs/derivations.md, section 10."""

from collections import OrderedDict

import numpy as np

from numpy_nn.base import Layer
from numpy_nn.checks import numeric, same_shape, saved
from numpy_nn.utils import seed_or_global


class Dropout(Layer):
    """Inverted dropout: while training, Y = X ⊙ M / (1 - p) with M_ij ~ Bernoulli(1 - p) drawn
    from the layer's seeded generator, so the expected output equals X and evaluation is the
    identity. Backward uses the same mask: dX = dY ⊙ M / (1 - p)."""

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed_or_global(seed))
        self.cache = OrderedDict([("mask", [])])

    def forward(self, X: np.ndarray) -> np.ndarray:
        X = numeric(X, "Dropout.forward", "X")
        if not self.training or self.p == 0:
            self.cache["mask"] = None
            return X
        keep = self.rng.random(X.shape) >= self.p
        mask = keep.astype(X.dtype) / X.dtype.type(1 - self.p)
        self.cache["mask"] = mask
        return X * mask

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        (mask,) = saved(self, "mask")
        if mask is None:
            return numeric(dLdY, "Dropout.backward", "dLdY")
        return same_shape(dLdY, mask, "Dropout.backward", "dLdY", "the output") * mask

"""Weight initializers.

``initialize_weights(name, activation, mode)`` returns a function ``init(shape, rng=None)`` that draws
a float64 array of ``shape = (n_in, n_out)``. Pass a ``numpy.random.Generator`` as ``rng`` (the
model does, from its seed) for reproducible weights; without one, ``seed`` given here is used,
and without that, fresh OS entropy.

Fan-in is ``shape[0]`` (inputs per unit) and fan-out ``shape[1]``; ``mode`` picks which one the
He initializers scale by. Gains follow PyTorch's ``calculate_gain``: relu sqrt(2), tanh 5/3,
everything else 1.
"""

import math
from collections.abc import Callable

import numpy as np

InitFn = Callable[..., np.ndarray]

GAINS = {"relu": math.sqrt(2.0), "tanh": 5.0 / 3.0}


def gain(activation: str | None) -> float:
    """Recommended scale for weights feeding ``activation`` (1 for anything not in GAINS)."""
    return GAINS.get(str(activation).lower(), 1.0)


def _fans(shape) -> tuple:
    if len(shape) < 2:
        raise ValueError(f"weight shape must have at least 2 dimensions, got {tuple(shape)}")
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1  # conv kernels: (kh, kw, in, out)
    return shape[-2] * receptive, shape[-1] * receptive


def initialize_weights(
    name: str,
    activation: str | None = None,
    mode: str = "fan_in",
    value: float = 0.0,
    std: float = 1.0,
    low: float = -1.0,
    high: float = 1.0,
    sparsity: float = 0.1,
    seed: int | None = None,
) -> InitFn:
    """Return ``init(shape, rng=None)`` for the initializer called ``name``.

    zeros, ones, constant (``value``), identity (ones on the diagonal), uniform U(low, high),
    normal N(0, std^2), sparse (a fraction ``sparsity`` of each column nonzero, N(0, 0.01^2)),
    he_uniform / he_normal (variance gain^2 / fan, fan chosen by ``mode``),
    xavier_uniform / xavier_normal (variance gain^2 * 2 / (fan_in + fan_out)).
    """
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"unknown mode {mode!r}: choose 'fan_in' or 'fan_out'")
    g = gain(activation)

    def generator(rng):
        return rng if rng is not None else np.random.default_rng(seed)

    def zeros(shape, rng=None):
        return np.zeros(shape)

    def ones(shape, rng=None):
        return np.ones(shape)

    def constant(shape, rng=None):
        return np.full(shape, float(value))

    def identity(shape, rng=None):
        return np.broadcast_to(np.eye(*shape[-2:]), shape).copy()

    def uniform(shape, rng=None):
        return generator(rng).uniform(low, high, size=shape)

    def normal(shape, rng=None):
        return generator(rng).normal(0.0, std, size=shape)

    def sparse(shape, rng=None):
        r = generator(rng)
        W = r.normal(0.0, 0.01, size=shape)
        n_zero = int(math.ceil((1.0 - sparsity) * shape[0]))
        # In every column, the n_zero rows with the smallest random keys are zeroed (exactly n_zero).
        ranks = np.argsort(np.argsort(r.random(shape), axis=0), axis=0)
        W[ranks < n_zero] = 0.0
        return W

    def he_uniform(shape, rng=None):
        fan = _fans(shape)[0 if mode == "fan_in" else 1]
        bound = g * math.sqrt(3.0 / fan)
        return generator(rng).uniform(-bound, bound, size=shape)

    def he_normal(shape, rng=None):
        fan = _fans(shape)[0 if mode == "fan_in" else 1]
        return generator(rng).normal(0.0, g / math.sqrt(fan), size=shape)

    def xavier_uniform(shape, rng=None):
        fan_in, fan_out = _fans(shape)
        bound = g * math.sqrt(6.0 / (fan_in + fan_out))
        return generator(rng).uniform(-bound, bound, size=shape)

    def xavier_normal(shape, rng=None):
        fan_in, fan_out = _fans(shape)
        return generator(rng).normal(0.0, g * math.sqrt(2.0 / (fan_in + fan_out)), size=shape)

    inits = {
        "zeros": zeros,
        "ones": ones,
        "constant": constant,
        "identity": identity,
        "uniform": uniform,
        "normal": normal,
        "sparse": sparse,
        "he_uniform": he_uniform,
        "he_normal": he_normal,
        "xavier_uniform": xavier_uniform,
        "xavier_normal": xavier_normal,
    }
    key = str(name).lower()
    if key not in inits:
        raise ValueError(f"unknown weight initializer {name!r}: choose one of {', '.join(inits)}")
    return inits[key]


WEIGHT_INIT_NAMES = (
    "zeros",
    "ones",
    "constant",
    "identity",
    "uniform",
    "normal",
    "sparse",
    "he_uniform",
    "he_normal",
    "xavier_uniform",
    "xavier_normal",
)

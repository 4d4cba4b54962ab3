"""Weight initializers.

The handout's classes (``Zeros``, ``Ones``, ``Identity``, ``Uniform``, ``Normal``, ``Constant``,
``Sparse``, ``XavierUniform``, ``XavierNormal``, ``HeUniform``, ``HeNormal``), and
``initialize_weights(name, activation, mode)``, which builds one by name. Each is a callable
``init(shape, rng=None)`` that draws a float64 array of ``shape = (n_in, n_out)`` (or a kernel's
``(kh, kw, c_in, c_out)``). Pass a ``numpy.random.Generator`` as ``rng`` (the
model does, from its seed) for reproducible weights; without one, ``seed`` given here is used,
and without that, fresh OS entropy.

Fan-in is ``shape[0]`` (inputs per unit) and fan-out ``shape[1]``; ``mode`` picks which one the
He initializers scale by. Gains follow PyTorch's ``calculate_gain``: relu sqrt(2), tanh 5/3,
everything else 1.
"""

import math
from abc import ABC, abstractmethod

import numpy as np

GAINS = {"relu": math.sqrt(2.0), "tanh": 5.0 / 3.0}


def gain(activation: str | None) -> float:
    """Recommended scale for weights feeding ``activation`` (1 for anything not in GAINS)."""
    return GAINS.get(str(activation).lower(), 1.0)


def _fans(shape) -> tuple:
    if len(shape) < 2:
        raise ValueError(f"weight shape must have at least 2 dimensions, got {tuple(shape)}")
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1  # conv kernels: (kh, kw, in, out)
    return shape[-2] * receptive, shape[-1] * receptive


class WeightInitializer(ABC):
    """``init(shape, rng=None)`` draws a float64 array of ``shape``, from ``rng`` when given (a
    ``numpy.random.Generator``), else from the ``seed`` given here, else from fresh entropy."""

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def generator(self, rng: np.random.Generator | None) -> np.random.Generator:
        return rng if rng is not None else np.random.default_rng(self.seed)

    @abstractmethod
    def __call__(self, shape, rng: np.random.Generator | None = None) -> np.ndarray:
        """A float64 array of ``shape``."""

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "seed")
        return f"{type(self).__name__}({options})"


class Zeros(WeightInitializer):
    def __call__(self, shape, rng=None):
        return np.zeros(shape)


class Ones(WeightInitializer):
    def __call__(self, shape, rng=None):
        return np.ones(shape)


class Constant(WeightInitializer):
    """Every entry ``value``."""

    def __init__(self, value: float = 0.0, seed: int | None = None):
        super().__init__(seed)
        self.value = float(value)

    def __call__(self, shape, rng=None):
        return np.full(shape, self.value)


class Identity(WeightInitializer):
    """Ones on the diagonal of the last two axes (a kernel: at every offset)."""

    def __call__(self, shape, rng=None):
        return np.broadcast_to(np.eye(*shape[-2:]), shape).copy()


class Uniform(WeightInitializer):
    """U(low, high)."""

    def __init__(self, low: float = -1.0, high: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.low, self.high = float(low), float(high)

    def __call__(self, shape, rng=None):
        return self.generator(rng).uniform(self.low, self.high, size=shape)


class Normal(WeightInitializer):
    """N(0, std^2)."""

    def __init__(self, std: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.std = float(std)

    def __call__(self, shape, rng=None):
        return self.generator(rng).normal(0.0, self.std, size=shape)


class Sparse(WeightInitializer):
    """N(0, std^2) with exactly ceil((1 - sparsity) n_in) zeros in every column: a fraction
    ``sparsity`` of each unit's inputs is connected."""

    def __init__(self, sparsity: float = 0.1, std: float = 0.01, seed: int | None = None):
        super().__init__(seed)
        self.sparsity, self.std = float(sparsity), float(std)

    def __call__(self, shape, rng=None):
        r = self.generator(rng)
        W = r.normal(0.0, self.std, size=shape)
        n_zero = int(math.ceil((1.0 - self.sparsity) * shape[0]))
        # In every column, the n_zero rows with the smallest random keys are zeroed (exactly n_zero).
        ranks = np.argsort(np.argsort(r.random(shape), axis=0), axis=0)
        W[ranks < n_zero] = 0.0
        return W


class XavierUniform(WeightInitializer):
    """U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)): variance gain^2 2 / (fan_in + fan_out)
    (Glorot & Bengio, 2010)."""

    def __init__(self, activation: str | None = None, seed: int | None = None):
        super().__init__(seed)
        self.activation = activation

    def __call__(self, shape, rng=None):
        fan_in, fan_out = _fans(shape)
        bound = gain(self.activation) * math.sqrt(6.0 / (fan_in + fan_out))
        return self.generator(rng).uniform(-bound, bound, size=shape)


class XavierNormal(XavierUniform):
    """N(0, gain^2 2 / (fan_in + fan_out))."""

    def __call__(self, shape, rng=None):
        fan_in, fan_out = _fans(shape)
        std = gain(self.activation) * math.sqrt(2.0 / (fan_in + fan_out))
        return self.generator(rng).normal(0.0, std, size=shape)


class HeUniform(WeightInitializer):
    """U(-a, a), a = gain sqrt(3 / fan): variance gain^2 / fan, the fan chosen by ``mode``
    (He et al., 2015; with relu's gain sqrt(2), variance 2 / fan)."""

    def __init__(
        self, activation: str | None = None, mode: str = "fan_in", seed: int | None = None
    ):
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"unknown mode {mode!r}: choose 'fan_in' or 'fan_out'")
        self.activation, self.mode = activation, mode

    def fan(self, shape) -> int:
        return _fans(shape)[0 if self.mode == "fan_in" else 1]

    def __call__(self, shape, rng=None):
        bound = gain(self.activation) * math.sqrt(3.0 / self.fan(shape))
        return self.generator(rng).uniform(-bound, bound, size=shape)


class HeNormal(HeUniform):
    """N(0, gain^2 / fan)."""

    def __call__(self, shape, rng=None):
        std = gain(self.activation) / math.sqrt(self.fan(shape))
        return self.generator(rng).normal(0.0, std, size=shape)


INITIALIZERS = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "identity": Identity,
    "uniform": Uniform,
    "normal": Normal,
    "sparse": Sparse,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "xavier_uniform": XavierUniform,
    "xavier_normal": XavierNormal,
}
WEIGHT_INIT_NAMES = tuple(INITIALIZERS)


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
) -> WeightInitializer:
    """The initializer called ``name`` (one of ``WEIGHT_INIT_NAMES``), as a callable
    ``init(shape, rng=None)``; each takes the options it uses: ``activation`` (Xavier, He),
    ``mode`` (He), ``value`` (constant), ``std`` (normal), ``low``/``high`` (uniform),
    ``sparsity`` (sparse)."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"unknown mode {mode!r}: choose 'fan_in' or 'fan_out'")
    key = str(name).lower()
    if key not in INITIALIZERS:
        raise ValueError(
            f"unknown weight initializer {name!r}: choose one of {', '.join(INITIALIZERS)}"
        )
    options = {
        "constant": {"value": value},
        "uniform": {"low": low, "high": high},
        "normal": {"std": std},
        "sparse": {"sparsity": sparsity},
        "xavier_uniform": {"activation": activation},
        "xavier_normal": {"activation": activation},
        "he_uniform": {"activation": activation, "mode": mode},
        "he_normal": {"activation": activation, "mode": mode},
    }.get(key, {})
    return INITIALIZERS[key](**options, seed=seed)

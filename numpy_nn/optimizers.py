"""Optimizers with the handout's interface: ``delta = opt.update(param_name, param, grad, epoch)``.

The caller applies the step in place, ``param -= delta`` (as the handout's ``NeuralNetwork.update``
does); ``param_name`` must be unique across the model (the model uses e.g. ``"W0"``, ``"b0"``)
because per-parameter state is keyed by it. The learning rate of each step is
``lr_scheduler(epoch)`` (``numpy_nn.schedulers``: constant by default, or exponential decay).
``opt.step(param_name, param, grad, epoch)`` does both at once; SGD does it faster
(see ``SGD.step``).
"""

from abc import ABC, abstractmethod

import numpy as np

from numpy_nn.schedulers import Scheduler, initialize_scheduler, positive_number


class Optimizer(ABC):
    """``lr`` is the base rate; ``lr_scheduler`` a schedule's name (``constant``,
    ``exponential`` with ``lr_decay``, ``stage_length``, ``staircase``) or a ``Scheduler``."""

    def __init__(
        self,
        lr: float,
        lr_scheduler: "str | Scheduler" = "constant",
        clip_norm: float | None = None,
        lr_decay: float | None = None,
        stage_length: float | None = None,
        staircase: bool | None = None,
    ):
        self.lr = positive_number("learning rate lr", lr)
        if isinstance(lr_scheduler, Scheduler):
            self.lr_scheduler = lr_scheduler
        else:
            self.lr_scheduler = initialize_scheduler(
                "constant" if lr_scheduler is None else lr_scheduler,
                lr,
                decay=lr_decay,
                stage_length=stage_length,
                staircase=staircase,
            )
        self.clip_norm = None if clip_norm is None else positive_number("clip_norm", clip_norm)
        self.cache: dict = {}

    def learning_rate(self, epoch=None) -> float:
        """The rate of a step taken in ``epoch``: ``lr_scheduler(epoch)``."""
        return self.lr_scheduler(epoch)

    def _clip(self, grad: np.ndarray) -> np.ndarray:
        """Rescale grad to L2 norm ``clip_norm`` when it is longer (per parameter)."""
        if self.clip_norm is None:
            return grad
        norm = float(np.sqrt(np.sum(grad * grad)))
        return grad * (self.clip_norm / norm) if norm > self.clip_norm else grad

    @abstractmethod
    def update(
        self, param_name: str, param: np.ndarray, grad: np.ndarray, epoch=None
    ) -> np.ndarray:
        """Return the step ``delta``; the caller does ``param -= delta``."""

    def step(self, param_name: str, param: np.ndarray, grad: np.ndarray, epoch=None) -> None:
        """Apply one step to ``param`` in place: ``param -= self.update(...)``."""
        param -= self.update(param_name, param, grad, epoch)

    def reset(self) -> None:
        """Forget all per-parameter state (momentum buffers, moment estimates)."""
        self.cache = {}


class SGD(Optimizer):
    """SGD with (heavy-ball) momentum, the handout's form, with lr_t = lr_scheduler(epoch):

        v <- momentum * v + lr_t * g,    param <- param - v.

    With a constant lr this is the same sequence of parameters as PyTorch's
    ``SGD(lr, momentum)`` (which keeps ``b <- momentum * b + g`` and steps ``lr * b``).
    The signature is the handout's; ``lr_decay`` (0.9), ``stage_length`` and ``staircase``
    only matter to the exponential schedule.
    """

    def __init__(
        self,
        lr: float,
        lr_scheduler: "str | Scheduler" = "constant",
        momentum: float = 0.0,
        clip_norm: float | None = None,
        lr_decay: float = 0.9,
        stage_length: float | None = None,
        staircase: bool | None = None,
    ):
        super().__init__(lr, lr_scheduler, clip_norm, lr_decay, stage_length, staircase)
        if isinstance(momentum, bool) or not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def update(self, param_name, param, grad, epoch=None):
        grad = self._clip(grad)
        lr = self.learning_rate(epoch)
        if self.momentum == 0.0:
            return lr * grad
        v = self.cache.get(param_name)
        if v is None:
            v = self.cache[param_name] = np.zeros_like(param)
        v *= self.momentum
        v += lr * grad
        return v

    # elements per block: a block of param, grad, v and the scratch (1 MiB in float32) fits in L2
    BLOCK = 1 << 16

    def step(self, param_name, param, grad, epoch=None):
        """``param -= self.update(...)`` with the same arithmetic, element for element, done one
        block of ``BLOCK`` elements at a time: the update is four elementwise passes (v *= m,
        s = lr g, v += s, param -= v), and on whole arrays each pass streams every array through
        main memory again; on blocks that stay in the cache each array is read from memory once.
        The step is memory-bound, so that is most of its cost (docs/benchmarks.md, "numpy_nn's
        MLP step")."""
        blocked = (
            self.clip_norm is None
            and param.flags.c_contiguous
            and grad.flags.c_contiguous
            and grad.dtype == param.dtype
            and param.size > self.BLOCK
        )
        if not blocked:
            return super().step(param_name, param, grad, epoch)
        p, g = param.reshape(-1), grad.reshape(-1)
        lr = self.learning_rate(epoch)
        if self.momentum != 0.0:
            v = self.cache.get(param_name)
            if v is None:
                v = self.cache[param_name] = np.zeros_like(param)
            v = v.reshape(-1)
        scratch = np.empty(self.BLOCK, dtype=param.dtype)
        for start in range(0, p.size, self.BLOCK):
            block = slice(start, start + self.BLOCK)
            s = scratch[: len(p[block])]
            np.multiply(g[block], lr, out=s)
            if self.momentum != 0.0:
                vb = v[block]
                vb *= self.momentum
                vb += s
                s = vb
            p[block] -= s


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction:

    m <- b1 m + (1 - b1) g,   s <- b2 s + (1 - b2) g^2,
    delta = lr_t * (m / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps),   lr_t = lr_scheduler(epoch).

    Not in the handout (an addition); it takes the handout's schedule options too.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        clip_norm: float | None = None,
        lr_scheduler: "str | Scheduler" = "constant",
        lr_decay: float | None = None,
        stage_length: float | None = None,
        staircase: bool | None = None,
    ):
        super().__init__(lr, lr_scheduler, clip_norm, lr_decay, stage_length, staircase)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def update(self, param_name, param, grad, epoch=None):
        grad = self._clip(grad)
        state = self.cache.get(param_name)
        if state is None:
            state = self.cache[param_name] = {
                "t": 0,
                "m": np.zeros_like(param),
                "s": np.zeros_like(param),
            }
        state["t"] += 1
        t, m, s = state["t"], state["m"], state["s"]
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        s *= self.beta2
        s += (1.0 - self.beta2) * grad * grad
        m_hat = m / (1.0 - self.beta1**t)
        s_hat = s / (1.0 - self.beta2**t)
        return self.learning_rate(epoch) * m_hat / (np.sqrt(s_hat) + self.eps)


_OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def initialize_optimizer(
    name: str,
    lr: float,
    lr_scheduler: "str | Scheduler | None" = None,
    momentum: float | None = None,
    clip_norm: float | None = None,
    lr_decay: float | None = None,
    staircase: bool | None = None,
    stage_length: float | None = None,
    **kwargs,
) -> Optimizer:
    """Build an optimizer by name: ``SGD`` (the handout's; case does not matter) or ``adam``.
    The keywords are the handout's; None means "the default", and further keywords (Adam's
    ``beta1``, ``beta2``, ``eps``) go to the constructor."""
    key = str(name).lower()
    if key not in _OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(_OPTIMIZERS)}")
    given = dict(
        lr_scheduler=lr_scheduler,
        momentum=momentum,
        clip_norm=clip_norm,
        lr_decay=lr_decay,
        staircase=staircase,
        stage_length=stage_length,
        **kwargs,
    )
    options = {k: v for k, v in given.items() if v is not None}
    try:
        return _OPTIMIZERS[key](lr=lr, **options)
    except TypeError as e:
        raise ValueError(f"bad options for optimizer {name!r}: {e}") from None

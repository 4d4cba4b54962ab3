"""Learning-rate schedules, the handout's: ``scheduler(epoch)`` is the learning rate to use in that
epoch (counted from 0). ``SGD(lr, lr_scheduler=...)`` builds one by name."""

import math
import numbers
from abc import ABC, abstractmethod


def positive_number(name: str, value) -> float:
    """``value`` as a float, or a ValueError naming ``name`` unless it is finite and > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class Scheduler(ABC):
    """``scheduler(epoch)`` -> learning rate; ``lr`` is the rate at epoch 0."""

    def __init__(self, lr: float):
        self.lr = positive_number("learning rate lr", lr)

    @abstractmethod
    def __call__(self, epoch: int) -> float:
        """The learning rate of ``epoch``."""


class Constant(Scheduler):
    """The same rate every epoch."""

    def __call__(self, epoch=None) -> float:
        return self.lr


class Exponential(Scheduler):
    """lr * decay ** (epoch / stage_length): the rate is multiplied by ``decay`` every
    ``stage_length`` epochs, smoothly, or in steps when ``staircase`` (the exponent floored)."""

    def __init__(self, lr: float, decay: float, stage_length: float, staircase: bool = False):
        super().__init__(lr)
        self.decay = positive_number("lr_decay", decay)
        if self.decay > 1:
            raise ValueError(f"lr_decay must be at most 1 (a decay), got {decay!r}")
        self.stage_length = positive_number("stage_length", stage_length)
        self.staircase = bool(staircase)

    def __call__(self, epoch: int) -> float:
        if epoch is None:
            raise ValueError("the exponential schedule needs the epoch: pass it to update()")
        exponent = epoch / self.stage_length
        if self.staircase:
            exponent = math.floor(exponent)
        return self.lr * self.decay**exponent


SCHEDULERS = {"constant": Constant, "exponential": Exponential}


def initialize_scheduler(
    name: str,
    lr: float,
    decay: float | None = None,
    stage_length: float | None = None,
    staircase: bool | None = None,
) -> Scheduler:
    """Build a schedule by name: ``constant`` (``decay``, ``stage_length`` and ``staircase``
    unused) or ``exponential`` (needs ``decay`` and ``stage_length``)."""
    key = str(name).lower()
    if key == "constant":
        return Constant(lr)
    if key == "exponential":
        missing = [n for n, v in (("lr_decay", decay), ("stage_length", stage_length)) if v is None]
        if missing:
            raise ValueError(f"the exponential lr_scheduler needs {' and '.join(missing)}")
        return Exponential(lr, decay, stage_length, bool(staircase))
    raise ValueError(f"unknown lr_scheduler {name!r}: choose one of {', '.join(SCHEDULERS)}")

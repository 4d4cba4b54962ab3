"""The layer base class: ``parameters``, ``gradients`` and ``cache`` OrderedDicts, lazy
parameters, and the train/test mode that BatchNorm and Dropout follow."""

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class Layer(ABC):
    """Base class. ``parameters``, ``gradients`` and ``cache`` are OrderedDicts keyed by name.

    ``gradients`` has exactly the keys of ``parameters``; ``cache`` holds what ``forward`` saved for
    ``backward``.
    """

    def __init__(self):
        self.training = True  # False: evaluation (BatchNorm's running statistics, no dropout)
        self.activation = None
        self.n_in: int | None = None
        self.n_out: int | None = None
        self.parameters: OrderedDict = OrderedDict()
        self.gradients: OrderedDict = OrderedDict()
        self.cache: OrderedDict = OrderedDict()

    @abstractmethod
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Output of the layer for a batch X."""

    @abstractmethod
    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """Fill ``gradients`` from the upstream gradient dL/dY and return dL/dX."""

    def set_mode(self, mode: str) -> None:
        """``"train"`` (the default) or ``"test"``: how BatchNorm and Dropout behave."""
        if mode not in ("train", "test"):
            raise ValueError(f"unknown mode {mode!r}: choose 'train' or 'test'")
        self.training = mode == "train"

    def clear_gradients(self) -> None:
        """Empty the cache and zero every gradient (keeping keys, shapes and dtypes)."""
        self.cache = OrderedDict((k, []) for k in self.cache)
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.gradients.items())

    def forward_with_param(
        self, param_name: str, X: np.ndarray
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Return ``f(value)``: the forward output on X with parameter ``param_name`` set to value.

        Used by the numerical gradient checker. Note that calling ``f`` overwrites the parameter.
        """

        def inner_forward(param_val: np.ndarray) -> np.ndarray:
            self.parameters[param_name] = param_val
            return self.forward(X)

        return inner_forward

    def _get_parameters(self) -> list:
        return list(self.parameters.values())

    def _get_cache(self) -> list:
        return list(self.cache.values())

    def _get_gradients(self) -> list:
        return list(self.gradients.values())

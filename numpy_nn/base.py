"""The layer base class: ``parameters``, ``gradients`` and ``cache`` OrderedDicts, lazy
parameters, and the train/test mode that BatchNorm and Dropout follow."""

import mmap
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from numpy_nn.activations import initialize_activation
from numpy_nn.utils import seed_or_global
from numpy_nn.weights import initialize_weights

# Arrays at least this large are zeroed by the operating system (``untouched_zeros_like``).
UNTOUCHED_ZEROS_MIN_BYTES = 1 << 20


def untouched_zeros_like(a: np.ndarray) -> np.ndarray:
    """``np.zeros_like(a)`` (same shape and dtype, C order, writable) without writing the zeros.

    ``clear_gradients`` runs after every step and the next ``backward`` replaces the zeroed
    arrays without reading them: for the 784-1024-1024-10 MLP, ``np.zeros_like`` wrote 7 MB of
    zeros per step, 6% of the step. The pages of a fresh anonymous memory map read as zero and
    cost nothing until written, so the zeros are only paid for by code that uses them (one that
    accumulates into a gradient, ``gradients["W"] += ...``). Small arrays take ``np.zeros_like``.
    """
    if a.nbytes < UNTOUCHED_ZEROS_MIN_BYTES:
        return np.zeros_like(a)
    return np.frombuffer(mmap.mmap(-1, a.nbytes), dtype=a.dtype).reshape(a.shape)


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

    # False: a frozen layer (``initialize_layer(..., trainable=False)``): its backward still
    # returns dL/dX but keeps no parameter gradient (they stay zero), and ``NeuralNetwork.update``
    # leaves its parameters as they are (no optimizer step, no momentum, no weight decay).
    trainable = True

    # Layers whose backward also takes ``input_gradient=False`` (fill ``gradients``, skip dL/dX,
    # return None) set this True. A network asks it of its first layer, whose input is the data:
    # for a dense first layer that skips a third of its backward work, as torch does.
    skips_input_gradient = False

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
        self.gradients = OrderedDict(
            (k, untouched_zeros_like(v)) for k, v in self.gradients.items()
        )

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


class WeightedLayer(Layer):
    """A layer Y = f(Z) whose Z is linear in weights W and a bias b (FullyConnected, Conv2D):
    ``n_out`` output units or channels, the activation f, and W's seeded initializer."""

    def __init__(self, n_out: int, activation: str, weight_init: str, seed: int | None):
        super().__init__()
        if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out <= 0:
            raise ValueError(f"n_out must be a positive integer, got {n_out!r}")
        self.n_out = int(n_out)
        self.activation_name = str(activation).lower()
        self.activation = initialize_activation(activation)
        self.weight_init = weight_init
        self.init_weights = initialize_weights(weight_init, activation=activation)
        self.rng = np.random.default_rng(seed_or_global(seed))

    def _set_weights(self, W: np.ndarray, b: np.ndarray, cache: tuple) -> None:
        """Install W and b with zero gradients and an empty cache of the given keys."""
        self.parameters = OrderedDict([("W", W), ("b", b)])
        self.cache = OrderedDict((k, []) for k in cache)
        self.gradients = OrderedDict([("W", np.zeros_like(W)), ("b", np.zeros_like(b))])

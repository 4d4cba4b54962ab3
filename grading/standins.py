"""Stand-ins: what a graded piece calls in place of the student's other pieces, inside the
sandbox. Each computes from what it is given, by a function written here; none replays an
expected value, so no answer is ever in the student's process.

    Activation(name)      inside a layer under test: the named activation's own function and
                          derivative, on whatever Z the layer passes it
    Layer(i, W, b, d)     layer i inside the network under test: Y = tanh(X W + b); backward
                          dX = (dY * d) W^T, a fixed linear map of dY (it reads no cache, so a
                          mistake in the network's forward never costs its backward)
    Loss(w, u)            the network's loss: J = sum(w (Y_hat - Y)^2 / 2 + u Y_hat) / m,
                          dJ/dY_hat = (w (Y_hat - Y) + u) / m (not symmetric in its
                          arguments, so swapping them shows)

The grader imports this module to compute, outside the sandbox, what a correct piece gives with
these stand-ins around it, from the same inputs; the sandbox gets a copy beside child.py, for
the pieces that call stand-ins (layers and the network). numpy only: it runs in the course's
environment, with nothing else of the grader's.

Every stand-in records how it was called, for the feedback (never for the score): the
activation notes a single number where an array was due (``np.vectorize``) and a backward
given the activation's own output instead of Z; the network's layers and loss record every
call with its arguments, which the grader compares with the right ones.
"""

from collections import OrderedDict

import numpy as np

SAME = 1e-9  # two arrays are "the same" in a call's record: equal to this (relative) tolerance
KEEP = 8  # the most recent forward calls an activation remembers, for its notes
RECORD = 64  # the most calls a network's stand-ins record (each with its arguments)


def as_float(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays are the same array of numbers (shape and values)."""
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return bool(np.all(np.abs(a - b) <= SAME * scale))


# -- activations: the functions the handout names ----------------------------------------------
def _sigmoid(Z):
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(Z):
    if Z.ndim == 0:  # one number alone: its own row
        return np.ones_like(Z)
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


FORWARD = {
    "linear": lambda Z: Z,
    "identity": lambda Z: Z,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda Z: np.maximum(Z, 0.0),
    "arctan": np.arctan,
    "softmax": _softmax,
}


def activation_forward(name: str, Z) -> np.ndarray:
    return FORWARD[name](as_float(Z))


def activation_backward(name: str, Z, dY) -> np.ndarray:
    """dL/dZ of the named activation at Z (ReLU's derivative at 0 taken as 0)."""
    Z, dY = as_float(Z), as_float(dY)
    if name in ("linear", "identity"):
        return dY * np.ones_like(Z)
    if name == "sigmoid":
        s = _sigmoid(Z)
        return dY * s * (1.0 - s)
    if name == "tanh":
        return dY * (1.0 - np.tanh(Z) ** 2)
    if name == "relu":
        return dY * (Z > 0)
    if name == "arctan":
        return dY / (1.0 + Z * Z)
    S = _softmax(Z)  # softmax: the Jacobian-vector product of each row
    if Z.ndim == 0:
        return np.zeros_like(dY)
    return S * (dY - np.sum(dY * S, axis=-1, keepdims=True))


class Activation:
    """The activation a layer under test calls: the named function on whatever it is given.
    ``notes`` (for the feedback): "scalar" when called on one number (np.vectorize or a
    loop), "output" when backward was given what forward returned instead of Z."""

    def __init__(self, name: str):
        self.name, self.notes = name, []
        self._given, self._returned = [], []

    def __call__(self, Z):
        return self.forward(Z)

    def forward(self, Z):
        Z = as_float(Z)
        self._note("scalar", Z.ndim == 0)
        Y = activation_forward(self.name, Z)
        self._given, self._returned = [*self._given, Z][-KEEP:], [*self._returned, Y][-KEEP:]
        return Y

    def backward(self, Z, dY):
        Z = as_float(Z)
        output = any(same(Z, y) for y in self._returned) and not any(
            same(Z, z) for z in self._given
        )
        self._note("output", output)
        return activation_backward(self.name, Z, dY)

    def _note(self, code: str, happened: bool) -> None:
        if happened and code not in self.notes:
            self.notes.append(code)


# -- the network's layers and loss -------------------------------------------------------------
def layer_forward(X, W, b) -> np.ndarray:
    return np.tanh(as_float(X) @ W + b)


def layer_backward(dY, W, d) -> np.ndarray:
    return (as_float(dY) * d) @ W.T


def loss_forward(Y, Y_hat, w, u) -> float:
    Y, Y_hat = as_float(Y), as_float(Y_hat)
    return float(np.sum(w * (Y_hat - Y) ** 2 / 2 + u * Y_hat) / len(Y))


def loss_backward(Y, Y_hat, w, u) -> np.ndarray:
    Y, Y_hat = as_float(Y), as_float(Y_hat)
    return (w * (Y_hat - Y) + u) / len(Y)


class Calls:
    """Every call the network's stand-ins receive, in order: (kind, layer, arguments); the
    first ``RECORD`` are kept with their arguments, the rest only counted."""

    def __init__(self):
        self.calls, self.more = [], 0

    def add(self, kind: str, layer: int, *args) -> None:
        if len(self.calls) < RECORD:
            self.calls.append((kind, layer, [as_float(a).copy() for a in args]))
        else:
            self.more += 1

    def clear(self) -> None:
        self.calls, self.more = [], 0


class Layer:
    """Layer ``i`` of the network under test, with the handout's attributes (``parameters``,
    ``gradients``, ``cache``, ``n_in``, ``n_out``, ...): forward Y = tanh(X W + b), backward
    dX = (dY * d) W^T. Its gradients are filled in by backward (any values: not graded)."""

    def __init__(self, i: int, W, b, d, calls: Calls):
        self.i, self.d, self.calls = i, as_float(d), calls
        self.n_in, self.n_out = W.shape
        self.activation, self.training, self.skips_input_gradient = None, True, False
        self.parameters = OrderedDict(W=as_float(W).copy(), b=as_float(b).copy())
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.parameters.items())
        self.cache = OrderedDict()

    def forward(self, X, *args, **kwargs):
        self.calls.add("forward", self.i, X)
        return layer_forward(X, self.parameters["W"], self.parameters["b"])

    __call__ = forward

    def backward(self, dY, *args, **kwargs):
        self.calls.add("backward", self.i, dY)
        dY = as_float(dY)
        self.gradients["W"] = np.full_like(self.parameters["W"], float(np.mean(dY)))
        self.gradients["b"] = dY.sum(axis=0, keepdims=True) if dY.ndim == 2 else self.gradients["b"]
        return layer_backward(dY, self.parameters["W"], self.d)

    def clear_gradients(self):
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.parameters.items())

    def set_mode(self, mode):
        self.training = mode == "train"

    def _get_parameters(self):
        return list(self.parameters.values())

    def _get_gradients(self):
        return list(self.gradients.values())

    def _get_cache(self):
        return []


class Loss:
    """The network's loss: J = sum(w (Y_hat - Y)^2 / 2 + u Y_hat) / m and dJ/dY_hat."""

    def __init__(self, w, u, calls: Calls, name: str = "cross_entropy"):
        self.w, self.u, self.calls, self.name = as_float(w), as_float(u), calls, name

    def forward(self, Y, Y_hat):
        self.calls.add("loss", -1, Y, Y_hat)
        return loss_forward(Y, Y_hat, self.w, self.u)

    __call__ = forward

    def backward(self, Y, Y_hat):
        self.calls.add("dloss", -1, Y, Y_hat)
        return loss_backward(Y, Y_hat, self.w, self.u)


class Optimizer:
    """The optimizer the handout's network builds: never used by forward, backward or predict."""

    def update(self, *args, **kwargs):
        return 0.0


def backward_out(out, O) -> np.ndarray:
    """The ``out`` the network's backward is given: what its own forward returned, when that
    is a finite array of ``O``'s shape (as the course's tests chain them, so a backward that
    reads its own cache of the forward is right), else the grader's ``O``. The grader computes
    what backward must give from the same array."""
    if out is not None and np.shape(out) == np.shape(O) and np.all(np.isfinite(out)):
        return as_float(out)
    return as_float(O)


def network(X, layers: list) -> list:
    """Each layer's output, first to last, for a correct NeuralNetwork.forward on X:
    ``layers`` as (W, b, d) per layer."""
    out, h = [], X
    for W, b, _ in layers:
        h = layer_forward(h, W, b)
        out.append(h)
    return out


def network_backward(dout, layers: list) -> list:
    """dL/dY of each layer (index i: what layer i's backward must be given), for a correct
    backward from dL/d(out) = ``dout``."""
    given, g = [None] * len(layers), dout
    for i in reversed(range(len(layers))):
        given[i] = g
        W, _, d = layers[i]
        g = layer_backward(g, W, d)
    return given

"""Handout-style ``neural_networks`` packages for the grader's tests, one per layout (A, B, C,
old: ../shared/COURSE_VARIANTS.md), written here from the handouts' published facts: the
provided code in each semester's shape (utils as a file or a folder without __init__.py, models
that import tqdm and pandas and build ``layer_args[:-1]``, an "SGD" that is case-sensitive,
datasets that read ``datasets/iris/`` from the working folder, C's naive Conv2D and 2-D-only
``_get_fan``, the old layout's Identity and ``update()``), with correct student bodies in the
styles students write (loops, ``np.vectorize``-free, ``b`` gradients of shape (n,), a naive
softmax in one layout). ``build(layout, folder, mistakes)`` writes one; a mistake replaces one
marked line. No real student's code is here.
"""

from pathlib import Path

HEADER = '"""Handout-style module for the grader\'s tests."""\n'

# -- activations -------------------------------------------------------------------------------
ACT_BASE = (
    HEADER
    + """
import numpy as np
from abc import ABC, abstractmethod


class Activation(ABC):
    def __call__(self, Z):
        return self.forward(Z)

    @abstractmethod
    def forward(self, Z):
        pass

    @abstractmethod
    def backward(self, Z, dY):
        pass
"""
)

FACTORY = '''

def initialize_activation(name):
    """Factory method to return an Activation object of the specified type."""
    if name == "{linear}":
        return {Linear}()
    elif name == "sigmoid":
        return Sigmoid()
    elif name == "tanh":
        return TanH()
    elif name == "relu":
        return ReLU()
    elif name == "softmax":
        return SoftMax()
{arctan}    else:
        raise NotImplementedError("{{}} activation is not implemented".format(name))
'''

LINEAR = """

class {name}(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        return Z

    def backward(self, Z, dY):
        return dY
"""

SIGMOID = """

class Sigmoid(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        ### YOUR CODE HERE ###
        return 1 / (1 + np.exp(-Z))  # @sigmoid-forward

    def backward(self, Z, dY):
        ### YOUR CODE HERE ###
        s = self.forward(Z)
        return dY * s * (1 - s)  # @sigmoid-backward
"""

TANH = """

class TanH(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        return 2 / (1 + np.exp(-2 * Z)) - 1

    def backward(self, Z, dY):
        fn = self.forward(Z)
        return dY * (1 - fn ** 2)
"""

RELU = '''

class ReLU(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        """f(z) = z if z >= 0, 0 otherwise"""
        ### YOUR CODE HERE ###
        return np.maximum(0, Z)  # @relu-forward

    def backward(self, Z, dY):
        ### YOUR CODE HERE ###
        return dY * (Z >= 0)  # @relu-backward
'''

SOFTMAX_STABLE = '''

class SoftMax(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        """Hint: The naive implementation might not be numerically stable."""
        ### YOUR CODE HERE ###
        e = np.exp(Z - np.max(Z, axis=1, keepdims=True))  # @softmax-exp
        return e / np.sum(e, axis=1, keepdims=True)  # @softmax-forward

    def backward(self, Z, dY):
        ### YOUR CODE HERE ###
        s = self.forward(Z)
        out = np.zeros_like(dY)
        for i in range(len(Z)):  # one Jacobian per example
            J = np.diag(s[i]) - np.outer(s[i], s[i])  # @softmax-jacobian
            out[i] = dY[i] @ J
        return out  # @softmax-backward
'''

SOFTMAX_NAIVE = """

class SoftMax(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        ### YOUR CODE HERE ###
        e = np.exp(Z)
        return e / e.sum(axis=1, keepdims=True)

    def backward(self, Z, dY):
        ### YOUR CODE HERE ###
        s = self.forward(Z)
        return s * (dY - np.sum(dY * s, axis=1, keepdims=True))
"""

ARCTAN = """

class ArcTan(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        return np.arctan(Z)

    def backward(self, Z, dY):
        return dY * 1 / (Z ** 2 + 1)
"""

OPTIONAL_SIGMOID_TANH = """

class Sigmoid(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        ### OPTIONAL: YOUR CODE HERE ###
        pass

    def backward(self, Z, dY):
        ### OPTIONAL: YOUR CODE HERE ###
        pass


class TanH(Activation):
    def __init__(self):
        super().__init__()

    def forward(self, Z):
        ### OPTIONAL: YOUR CODE HERE ###
        return np.tanh(Z)

    def backward(self, Z, dY):
        ### OPTIONAL: YOUR CODE HERE ###
        return dY * (1 - np.tanh(Z) ** 2)
"""


def activations(layout: str) -> str:
    linear = "Identity" if layout == "old" else "Linear"
    arctan = '    elif name == "arctan":\n        return ArcTan()\n' if layout in "AB" else ""
    text = ACT_BASE + FACTORY.format(linear=linear.lower(), Linear=linear, arctan=arctan)
    text += LINEAR.format(name=linear)
    text += OPTIONAL_SIGMOID_TANH if layout == "C" else SIGMOID + TANH
    text += RELU + (SOFTMAX_NAIVE if layout == "B" else SOFTMAX_STABLE)
    return text + (ARCTAN if layout in "AB" else "")


# -- layers ------------------------------------------------------------------------------------
LAYER_IMPORTS = {
    "A": "from neural_networks.activations import initialize_activation\n"
    "from neural_networks.weights import initialize_weights\n",
    "B": "from neural_networks.activations import initialize_activation\n"
    "from neural_networks.weights import initialize_weights\n",
    "C": "from neural_networks.activations import initialize_activation\n"
    "from neural_networks.weights import initialize_weights\n"
    "from neural_networks.utils.convolution import im2col, col2im, pad2d\n",
    "old": "from neural_networks.activations import initialize_activation\n"
    "from neural_networks.weights import initialize_weights\n",
}

LAYER_BASE = '''
from collections import OrderedDict
{typing}

class Layer(ABC):
    """Abstract class defining the `Layer` interface."""

    def __init__(self):
        self.activation = None
        self.n_in = None
        self.n_out = None
        self.parameters = {{}}
        self.cache = {{}}
        self.gradients = {{}}
        super().__init__()

    @abstractmethod
    def forward(self, z):
        pass

    def clear_gradients(self):
        self.cache = OrderedDict({{a: [] for a, b in self.cache.items()}})
        self.gradients = OrderedDict({{a: np.zeros_like(b) for a, b in self.gradients.items()}})

    def forward_with_param(self, param_name, X):
        def inner_forward(param_val):
            self.parameters[param_name] = param_val
            return self.forward(X)

        return inner_forward

    def _get_parameters(self):
        return [b for a, b in self.parameters.items()]

    def _get_cache(self):
        return [b for a, b in self.cache.items()]

    def _get_gradients(self):
        return [b for a, b in self.gradients.items()]
'''

INIT_LAYER = {
    "A": '''

def initialize_layer(name, activation=None, weight_init=None, n_out=None, kernel_shape=None,
                     stride=None, pad=None, mode=None, keep_dim="first"{bn_args}):
    """Factory function for layers."""
    if name == "fully_connected":
        return FullyConnected(n_out=n_out, activation=activation, weight_init=weight_init)
    elif name == "conv2d":
        return Conv2D(n_out=n_out, activation=activation, kernel_shape=kernel_shape,
                      stride=stride, pad=pad, weight_init=weight_init)
    elif name == "pool2d":
        return Pool2D(kernel_shape=kernel_shape, mode=mode, stride=stride, pad=pad)
    elif name == "flatten":
        return Flatten(keep_dim=keep_dim)
{bn_branch}    else:
        raise NotImplementedError("Layer type {{}} is not implemented".format(name))
''',
    "C": '''

def initialize_layer(name, activation=None, weight_init=None, n_out=None, kernel_shape=None,
                     stride=None, pad=None, mode=None, keep_dim="first"):
    """Factory function for layers."""
    if name == "fully_connected":
        return FullyConnected(n_out=n_out, activation=activation, weight_init=weight_init)
    elif name == "elman":
        return Elman(n_out=n_out, activation=activation, weight_init=weight_init)
    elif name == "conv2d":
        return Conv2D(n_out=n_out, activation=activation, kernel_shape=kernel_shape,
                      stride=stride, pad=pad, weight_init=weight_init)
    else:
        raise NotImplementedError("Layer type {} is not implemented".format(name))
''',
    "old": """

def initialize_layer(name, activation, weight_init, n_out):
    return FullyConnected(n_out=n_out, activation=activation, weight_init=weight_init)
""",
}

FULLY_CONNECTED = '''

class FullyConnected(Layer):
    """A fully-connected layer multiplies its input by a weight matrix, adds
    a bias, and then applies an activation function."""

    def __init__(self, n_out, activation, weight_init="xavier_uniform"):
        super().__init__()
        self.n_in = None
        self.n_out = n_out
        self.activation = initialize_activation(activation)
        self.init_weights = initialize_weights(weight_init, activation=activation)

    def _init_parameters(self, X_shape):
        self.n_in = X_shape[1]
        ### BEGIN YOUR CODE ###
        W = self.init_weights((self.n_in, self.n_out))  # @fc-init-W
        b = np.zeros((1, self.n_out))
        self.parameters = OrderedDict({"W": W, "b": b})
        self.cache = OrderedDict({"Z": [], "X": []})
        self.gradients = OrderedDict({"W": np.zeros_like(W), "b": np.zeros_like(b)})
        ### END YOUR CODE ###

    def forward(self, X):
        if self.n_in is None:
            self._init_parameters(X.shape)
        ### BEGIN YOUR CODE ###
        W = self.parameters["W"]
        b = self.parameters["b"]
        Z = X @ W + b  # @fc-forward-Z
        out = self.activation(Z)  # @fc-forward-out
        self.cache["X"] = X
        self.cache["Z"] = Z
        ### END YOUR CODE ###
        return out

    def backward(self, dLdY):
        ### BEGIN YOUR CODE ###
        X = self.cache["X"]
        Z = self.cache["Z"]
        W = self.parameters["W"]
        dZ = self.activation.backward(Z, dLdY)  # @fc-backward-dZ
        dW = X.T @ dZ  # @fc-backward-dW
        db = np.sum(dZ, axis=0)  # @fc-backward-db
        dX = dZ @ W.T  # @fc-backward-dX
        self.gradients["W"] = dW
        self.gradients["b"] = db
        ### END YOUR CODE ###
        return dX
'''

CONV_INIT_PROVIDED = '''

class Conv2D(Layer):
    """Convolutional layer for inputs with 2 spatial dimensions."""

    def __init__(self, n_out, kernel_shape, activation, stride=1, pad="same",
                 weight_init="xavier_uniform"):
        super().__init__()
        self.n_in = None
        self.n_out = n_out
        self.kernel_shape = kernel_shape
        self.stride = stride
        self.pad = pad
        self.activation = initialize_activation(activation)
        self.init_weights = initialize_weights(weight_init, activation=activation)

    def _init_parameters(self, X_shape):
        """Initialize all layer parameters and determine padding."""
        self.n_in = X_shape[3]
        W_shape = self.kernel_shape + (self.n_in,) + (self.n_out,)
        W = self.init_weights(W_shape)
        b = np.zeros((1, self.n_out))
        self.parameters = OrderedDict({"W": W, "b": b})
        self.cache = OrderedDict({"Z": [], "X": []})
        self.gradients = OrderedDict({"W": np.zeros_like(W), "b": np.zeros_like(b)})
        if self.pad == "same":
            self.pad = ((W_shape[0] - 1) // 2, (W_shape[1] - 1) // 2)
        elif self.pad == "valid":
            self.pad = (0, 0)
        elif isinstance(self.pad, int):
            self.pad = (self.pad, self.pad)
        else:
            raise ValueError("Invalid Pad mode found in self.pad.")
'''

CONV_LOOPS = """
    def forward(self, X):
        if self.n_in is None:
            self._init_parameters(X.shape)
        W = self.parameters["W"]
        b = self.parameters["b"]
        kernel_height, kernel_width, in_channels, out_channels = W.shape
        n_examples, in_rows, in_cols, in_channels = X.shape
        ### BEGIN YOUR CODE ###
        ph, pw = self.pad
        s = self.stride
        Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        rows = (in_rows + 2 * ph - kernel_height) // s + 1
        cols = (in_cols + 2 * pw - kernel_width) // s + 1
        Z = np.zeros((n_examples, rows, cols, out_channels))
        for i in range(rows):
            for j in range(cols):
                window = Xp[:, i * s : i * s + kernel_height, j * s : j * s + kernel_width, :]
                Z[:, i, j, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2]))
        Z = Z + b  # @conv-forward-bias
        out = self.activation(Z)
        self.cache["Z"] = Z
        self.cache["X"] = X
        ### END YOUR CODE ###
        return out

    def backward(self, dLdY):
        ### BEGIN YOUR CODE ###
        W = self.parameters["W"]
        Z = self.cache["Z"]
        X = self.cache["X"]
        kernel_height, kernel_width, in_channels, out_channels = W.shape
        ph, pw = self.pad
        s = self.stride
        dZ = self.activation.backward(Z, dLdY)
        Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        dXp = np.zeros_like(Xp)
        dW = np.zeros_like(W)
        for i in range(dZ.shape[1]):
            for j in range(dZ.shape[2]):
                window = Xp[:, i * s : i * s + kernel_height, j * s : j * s + kernel_width, :]
                dW += np.tensordot(window, dZ[:, i, j, :], axes=([0], [0]))  # @conv-backward-dW
                dXp[:, i * s : i * s + kernel_height, j * s : j * s + kernel_width, :] += np.tensordot(
                    dZ[:, i, j, :], W, axes=([1], [3]))
        dX = dXp[:, ph : ph + X.shape[1], pw : pw + X.shape[2], :]  # @conv-backward-dX
        self.gradients["W"] = dW
        self.gradients["b"] = dZ.sum(axis=(0, 1, 2)).reshape(1, -1)  # @conv-backward-db
        ### END YOUR CODE ###
        return dX
"""

POOL = '''

class Pool2D(Layer):
    """Pooling layer, implements max and average pooling."""

    def __init__(self, kernel_shape, mode="max", stride=1, pad=0):
        if type(kernel_shape) == int:
            kernel_shape = (kernel_shape, kernel_shape)
        self.kernel_shape = kernel_shape
        self.stride = stride
        if pad == "same":
            self.pad = ((kernel_shape[0] - 1) // 2, (kernel_shape[1] - 1) // 2)
        elif pad == "valid":
            self.pad = (0, 0)
        elif isinstance(pad, int):
            self.pad = (pad, pad)
        else:
            raise ValueError("Invalid Pad mode found in self.pad.")
        self.mode = mode
        if mode == "max":
            self.pool_fn = np.max
            self.arg_pool_fn = np.argmax
        elif mode == "average":
            self.pool_fn = np.mean
        self.cache = {"out_rows": [], "out_cols": [], "X_pad": [], "p": [], "pool_shape": []}
        self.parameters = {}
        self.gradients = {}

    def forward(self, X):
        ### BEGIN YOUR CODE ###
        kh, kw = self.kernel_shape
        ph, pw = self.pad
        s = self.stride
        Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        rows = (X.shape[1] + 2 * ph - kh) // s + 1
        cols = (X.shape[2] + 2 * pw - kw) // s + 1
        out = np.zeros((X.shape[0], rows, cols, X.shape[3]))
        for i in range(rows):
            for j in range(cols):
                window = Xp[:, i * s : i * s + kh, j * s : j * s + kw, :]
                out[:, i, j, :] = self.pool_fn(window, axis=(1, 2))
        self.cache["X"] = X
        self.cache["out_rows"], self.cache["out_cols"] = rows, cols
        ### END YOUR CODE ###
        return out

    def backward(self, dLdY):
        ### BEGIN YOUR CODE ###
        X = self.cache["X"]
        kh, kw = self.kernel_shape
        ph, pw = self.pad
        s = self.stride
        Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        dXp = np.zeros_like(Xp)
        for i in range(dLdY.shape[1]):
            for j in range(dLdY.shape[2]):
                window = Xp[:, i * s : i * s + kh, j * s : j * s + kw, :]
                if self.mode == "max":
                    flat = window.reshape(len(X), kh * kw, -1)
                    mask = np.zeros_like(flat)
                    idx = self.arg_pool_fn(flat, axis=1)
                    for n in range(len(X)):
                        mask[n, idx[n], np.arange(flat.shape[2])] = 1  # @pool-backward-mask
                    share = mask.reshape(window.shape)
                else:
                    share = np.ones_like(window) / (kh * kw)  # @pool-backward-average
                dXp[:, i * s : i * s + kh, j * s : j * s + kw, :] += share * dLdY[:, i : i + 1, j : j + 1, :]
        dX = dXp[:, ph : ph + X.shape[1], pw : pw + X.shape[2], :]
        ### END YOUR CODE ###
        return dX
'''

FLATTEN = '''

class Flatten(Layer):
    """Flatten the input array."""

    def __init__(self, keep_dim="first"):
        super().__init__()
        self.keep_dim = keep_dim
        self._init_params()

    def _init_params(self):
        self.X = []
        self.gradients = {}
        self.parameters = {}
        self.cache = {"in_dims": []}

    def forward(self, X, retain_derived=True):
        self.n_in = X.shape
        if self.keep_dim == -1:
            return X.flatten().reshape(1, -1)
        rs = (X.shape[0], -1) if self.keep_dim == "first" else (-1, X.shape[-1])
        out = X.reshape(*rs)
        self.cache["in_dims"] = X.shape
        return out

    def backward(self, dLdY, retain_grads=True):
        in_dims = self.cache["in_dims"]
        return dLdY.reshape(in_dims)
'''

BATCHNORM = """

class BatchNorm1D(Layer):
    def __init__(self, weight_init="xavier_uniform", eps=1e-8, momentum=0.9):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.init_weights = initialize_weights(weight_init)

    def _init_parameters(self, X_shape):
        ### BEGIN YOUR CODE ###
        self.n_in = X_shape[1]
        gamma = np.ones((1, self.n_in))
        beta = np.zeros((1, self.n_in))
        self.parameters = OrderedDict({"gamma": gamma, "beta": beta})
        self.cache = OrderedDict({"X": [], "X_hat": [], "mu": [], "var": [],
                                  "running_mu": np.zeros((1, self.n_in)),
                                  "running_var": np.ones((1, self.n_in))})
        self.gradients = OrderedDict({"gamma": np.zeros_like(gamma), "beta": np.zeros_like(beta)})
        ### END YOUR CODE ###

    def forward(self, X, mode="train"):
        if self.n_in is None:
            self._init_parameters(X.shape)
        ### BEGIN YOUR CODE ###
        if mode == "train":
            mu = X.mean(axis=0, keepdims=True)
            var = X.var(axis=0, keepdims=True)  # @bn-var
            m = self.momentum
            self.cache["running_mu"] = m * self.cache["running_mu"] + (1 - m) * mu  # @bn-running-mu
            self.cache["running_var"] = m * self.cache["running_var"] + (1 - m) * var
        else:
            mu, var = self.cache["running_mu"], self.cache["running_var"]
        X_hat = (X - mu) / np.sqrt(var + self.eps)
        out = self.parameters["gamma"] * X_hat + self.parameters["beta"]
        self.cache.update(X=X, X_hat=X_hat, mu=mu, var=var)
        ### END YOUR CODE ###
        return out

    def backward(self, dY):
        X, X_hat, mu, var = (self.cache[k] for k in ("X", "X_hat", "mu", "var"))
        m = len(X)
        gamma = self.parameters["gamma"]
        self.gradients["gamma"] = np.sum(dY * X_hat, axis=0, keepdims=True)
        self.gradients["beta"] = np.sum(dY, axis=0, keepdims=True)
        dX_hat = dY * gamma
        inv = 1 / np.sqrt(var + self.eps)
        return inv / m * (m * dX_hat - dX_hat.sum(0) - X_hat * np.sum(dX_hat * X_hat, axis=0))
"""

ELMAN = '''

class Elman(Layer):
    """Elman recurrent layer."""

    def __init__(self, n_out, activation="tanh", weight_init="xavier_uniform"):
        super().__init__()
        self.n_in = None
        self.n_out = n_out
        self.activation = initialize_activation(activation)
        self.init_weights = initialize_weights(weight_init, activation=activation)

    def _init_parameters(self, X_shape):
        self.n_in = X_shape[1]
        ### BEGIN YOUR CODE ###
        W = self.init_weights((self.n_in, self.n_out))
        U = self.init_weights((self.n_out, self.n_out))
        b = np.zeros((1, self.n_out))
        self.parameters = OrderedDict({"W": W, "U": U, "b": b})
        self.gradients = OrderedDict({"W": np.zeros_like(W), "U": np.zeros_like(U), "b": np.zeros_like(b)})
        ### END YOUR CODE ###

    def _init_cache(self, X_shape):
        ### BEGIN YOUR CODE ###
        s0 = np.zeros((X_shape[0], self.n_out))
        self.cache = OrderedDict({"s": [s0], "Z": [], "X": []})
        ### END YOUR CODE ###

    def forward_step(self, X):
        ### BEGIN YOUR CODE ###
        W, U, b = self.parameters["W"], self.parameters["U"], self.parameters["b"]
        Z = X @ W + self.cache["s"][-1] @ U + b  # @elman-step
        out = self.activation(Z)
        self.cache["Z"].append(Z)
        self.cache["X"].append(X)
        self.cache["s"].append(out)
        ### END YOUR CODE ###
        return out

    def forward(self, X):
        if self.n_in is None:
            self._init_parameters(X.shape[:2])
        self._init_cache(X.shape)
        ### BEGIN YOUR CODE ###
        Y = []
        for t in range(X.shape[2]):
            Y.append(self.forward_step(X[:, :, t]))
        ### END YOUR CODE ###
        return Y[-1]

    def backward(self, dLdY):
        ### BEGIN YOUR CODE ###
        W, U = self.parameters["W"], self.parameters["U"]
        dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros((1, self.n_out))
        dS = dLdY
        dLdX = []
        for t in reversed(range(len(self.cache["Z"]))):
            dZ = self.activation.backward(self.cache["Z"][t], dS)
            dW += self.cache["X"][t].T @ dZ
            dU += self.cache["s"][t].T @ dZ  # @elman-dU
            db += dZ.sum(axis=0, keepdims=True)
            dLdX.insert(0, dZ @ W.T)  # @elman-dX
            dS = dZ @ U.T
        self.gradients = OrderedDict({"W": dW, "U": dU, "b": db})
        ### END YOUR CODE ###
        return dLdX
'''

CONV_C = '''

class Conv2D(Layer):
    """Convolutional layer for inputs with 2 spatial dimensions."""

    def __init__(self, n_out, kernel_shape, activation, stride=1, pad="same",
                 weight_init="xavier_uniform"):
        super().__init__()
        self.n_in = None
        self.n_out = n_out
        self.kernel_shape = kernel_shape
        self.stride = stride
        self.pad = pad
        self.activation = initialize_activation(activation)
        self.init_weights = initialize_weights(weight_init, activation=activation)

    def _init_parameters(self, X_shape):
        ### BEGIN YOUR CODE ###
        self.n_in = X_shape[3]
        W = self.init_weights(self.kernel_shape + (self.n_in, self.n_out))
        b = np.zeros((1, self.n_out))
        self.parameters = OrderedDict({"W": W, "b": b})
        self.cache = OrderedDict({"Z": [], "X": []})
        self.gradients = OrderedDict({"W": np.zeros_like(W), "b": np.zeros_like(b)})
        ### END YOUR CODE ###

    def forward(self, X):
        if self.n_in is None:
            self._init_parameters(X.shape)
        W = self.parameters["W"]
        b = self.parameters["b"]
        kernel_height, kernel_width, in_channels, out_channels = W.shape
        ### BEGIN YOUR CODE ###
        Xp, p = pad2d(X, self.pad, self.kernel_shape, self.stride)
        s = self.stride
        rows = (Xp.shape[1] - kernel_height) // s + 1
        cols = (Xp.shape[2] - kernel_width) // s + 1
        Z = np.zeros((X.shape[0], rows, cols, out_channels))
        for i in range(rows):
            for j in range(cols):
                window = Xp[:, i * s : i * s + kernel_height, j * s : j * s + kernel_width, :, None]
                Z[:, i, j, :] = np.sum(window * W, axis=(1, 2, 3)) + b[0]
        out = self.activation(Z)
        self.cache["Z"] = Z
        self.cache["X"] = X
        ### END YOUR CODE ###
        return out

    def backward(self, dLdY):
        ### BEGIN YOUR CODE ###
        W = self.parameters["W"]
        X, Z = self.cache["X"], self.cache["Z"]
        kernel_height, kernel_width, in_channels, out_channels = W.shape
        dZ = self.activation.backward(Z, dLdY)
        Xp, p = pad2d(X, self.pad, self.kernel_shape, self.stride)
        s = self.stride
        dXp, dW = np.zeros_like(Xp), np.zeros_like(W)
        for i in range(dZ.shape[1]):
            for j in range(dZ.shape[2]):
                window = Xp[:, i * s : i * s + kernel_height, j * s : j * s + kernel_width, :]
                dW += np.einsum("nhwc,nk->hwck", window, dZ[:, i, j, :])
                dXp[:, i * s : i * s + kernel_height, j * s : j * s + kernel_width, :] += np.einsum(
                    "hwck,nk->nhwc", W, dZ[:, i, j, :])
        dX = dXp[:, p[0] : p[0] + X.shape[1], p[2] : p[2] + X.shape[2], :]
        self.gradients["W"] = dW
        self.gradients["b"] = dZ.sum(axis=(0, 1, 2))[None]
        ### END YOUR CODE ###
        return dX

    def forward_faster(self, X):
        """DO NOT ALTER THIS METHOD. We will use forward_faster() to check your method."""
        return self.forward(X)
'''


FC_ONLY = '''

def initialize_layer(name, activation=None, weight_init=None, n_out=None, kernel_shape=None,
                     stride=None, pad=None, mode=None, keep_dim="first"):
    """Factory function for layers."""
    if name == "fully_connected":
        return FullyConnected(n_out=n_out, activation=activation, weight_init=weight_init)
    else:
        raise NotImplementedError("Layer type {} is not implemented".format(name))
'''


def variant_layers() -> str:
    """The layout A variant's layers.py: Layer, a factory with one branch, FullyConnected."""
    text = HEADER + "\nimport numpy as np\nfrom abc import ABC, abstractmethod\n\n"
    typing = "from typing import Callable, List, Literal, Tuple, Union\n"
    return text + LAYER_IMPORTS["A"] + LAYER_BASE.format(typing=typing) + FC_ONLY + FULLY_CONNECTED


def layers(layout: str, batchnorm: bool = False) -> str:
    typing = "from typing import Callable, List, Literal, Tuple, Union\n" if layout != "C" else ""
    text = HEADER + "\nimport numpy as np\nfrom abc import ABC, abstractmethod\n\n"
    text += LAYER_IMPORTS[layout] + LAYER_BASE.format(typing=typing)
    if layout in "AB":
        bn_args = ", eps=1e-8, momentum=0.95" if batchnorm else ""
        bn_branch = (
            (
                '    elif name == "batchnorm1d":\n        return BatchNorm1D(eps=eps, '
                "momentum=momentum)\n"
            )
            if batchnorm
            else ""
        )
        text += INIT_LAYER["A"].format(bn_args=bn_args, bn_branch=bn_branch)
        text += FULLY_CONNECTED + CONV_INIT_PROVIDED + CONV_LOOPS + POOL + FLATTEN
        return text + (BATCHNORM if batchnorm else "")
    if layout == "C":
        return text + INIT_LAYER["C"] + FULLY_CONNECTED + ELMAN + CONV_C
    return text + INIT_LAYER["old"] + FULLY_CONNECTED


# -- losses ------------------------------------------------------------------------------------
LOSSES = (
    HEADER
    + '''
import numpy as np
from abc import ABC, abstractmethod


class Loss(ABC):
    @abstractmethod
    def forward(Y, Y_hat):
        pass

    @abstractmethod
    def backward(Y, Y_hat):
        pass


def initialize_loss(name):
    if name == "cross_entropy":
        return CrossEntropy(name)
{l2_branch}    else:
        raise NotImplementedError("{{}} loss is not implemented".format(name))


class CrossEntropy(Loss):
    """Cross entropy loss function."""

    def __init__(self, name):
        self.name = name

    def __call__(self, Y, Y_hat):
        return self.forward(Y, Y_hat)

    def forward(self, Y, Y_hat):
        ### YOUR CODE HERE ###
        m = Y.shape[0]
        return -np.sum(Y * np.log(Y_hat)) / m  # @ce-forward

    def backward(self, Y, Y_hat):
        ### YOUR CODE HERE ###
        m = Y.shape[0]
        return -Y / (m * Y_hat)  # @ce-backward
'''
)

L2 = '''

class L2(Loss):
    """Mean squared error loss."""

    def __init__(self, name):
        self.name = name

    def __call__(self, Y, Y_hat):
        return self.forward(Y, Y_hat)

    def forward(self, Y, Y_hat):
        ### YOUR CODE HERE ###
        return np.sum((Y - Y_hat) ** 2) / (2 * Y.shape[0])  # @l2-forward

    def backward(self, Y, Y_hat):
        ### YOUR CODE HERE ###
        return (Y_hat - Y) / Y.shape[0]  # @l2-backward
'''


def losses(layout: str) -> str:
    l2 = layout in ("B", "C")
    branch = '    elif name == "l2":\n        return L2(name)\n' if l2 else ""
    return LOSSES.format(l2_branch=branch) + (L2 if l2 else "")


# -- models ------------------------------------------------------------------------------------
MODELS = (
    HEADER
    + """
from abc import ABC, abstractmethod
import numpy as np

from neural_networks.losses import initialize_loss
from neural_networks.optimizers import initialize_optimizer
from neural_networks.layers import initialize_layer
from collections import OrderedDict
import pickle
from tqdm import tqdm
{pandas}
from {attrdict} import AttrDict
from neural_networks.datasets import Dataset


def initialize_model(name, loss, layer_args, optimizer_args, logger=None, seed=None):
    return NeuralNetwork(loss=loss, layer_args=layer_args, optimizer_args=optimizer_args,
                         logger=logger, seed=seed)


class NeuralNetwork(ABC):
    def __init__(self, loss, layer_args, optimizer_args, logger=None, seed=None):
        self.n_layers = len(layer_args)
        self.layer_args = layer_args
        self.logger = logger
        self.epoch_log = {{"loss": {{}}, "error": {{}}}}
        self.loss = initialize_loss(loss)
        self.optimizer = initialize_optimizer(**optimizer_args)
        self._initialize_layers(layer_args)

    def _initialize_layers(self, layer_args):
        self.layers = []
        for l_arg in layer_args[:-1]:
            l = initialize_layer(**l_arg)
            self.layers.append(l)

    def forward(self, X):
        ### YOUR CODE HERE ###
        for layer in self.layers:  # @net-forward-loop
            X = layer.forward(X)
        return X

    def backward(self, target, out):
        ### YOUR CODE HERE ###
        L = self.loss.forward(target, out)
        dLdY = self.loss.backward(target, out)
        for layer in self.layers[::-1]:  # @net-backward-loop
            dLdY = layer.backward(dLdY)
        return L

    def update(self{epoch_arg}):
        for i, layer in enumerate(self.layers):
            for param_name, param in layer.parameters.items():
                param_grad = layer.gradients[param_name]
                delta = self.optimizer.update(param_name + str(i), param, param_grad{epoch})
                layer.parameters[param_name] -= delta
            layer.clear_gradients()

    def error(self, target, out):
        if self.loss.name == "cross_entropy":
            return np.mean(np.argmax(out, axis=1) != np.argmax(target, axis=1))
        return np.mean((target - out) ** 2)

    def train(self, dataset, epochs):
        args = self.layer_args[-1]
        args["n_out"] = dataset.out_dim
        output_layer = initialize_layer(**args)
        self.layers.append(output_layer)
        for i in range(epochs):
            training_loss, training_error = [], []
            for _ in tqdm(range(dataset.train.samples_per_epoch)):
                X, Y = dataset.train.sample()
                Y_hat = self.forward(X)
                L = self.backward(np.array(Y), np.array(Y_hat))
                error = self.error(Y, Y_hat)
                self.update({epoch_value})
                training_loss.append(L)
                training_error.append(error)
            validation_loss, validation_error = [], []
            for _ in range(dataset.validate.samples_per_epoch):
                X, Y = dataset.validate.sample()
                Y_hat = self.forward(X)
                validation_loss.append(self.loss.forward(Y, Y_hat))
                validation_error.append(self.error(Y, Y_hat))
            print("Epoch {{}} Training Loss: {{}} Val Loss: {{}}".format(
                i, round(np.mean(training_loss), 4), round(np.mean(validation_loss), 4)))

    def test(self, dataset, save_predictions=False):
        test_log = {{"loss": [], "error": []}}
        for _ in range(dataset.test.samples_per_epoch):
            X, Y = dataset.test.sample()
            Y_hat, L = self.predict(X, Y)
            test_log["loss"].append(L)
            test_log["error"].append(self.error(Y, Y_hat))
        print("Test Loss: {{}} Test Accuracy: {{}}".format(
            round(np.mean(test_log["loss"]), 4), round(1 - np.mean(test_log["error"]), 4)))
        return test_log

    def predict(self, X, Y):
        ### YOUR CODE HERE ###
        Y_hat = self.forward(X)  # @net-predict
        L = self.backward(Y, Y_hat)
        return Y_hat, L
"""
)


def models(layout: str) -> str:
    attrdict = "neural_networks.utils" if layout == "A" else "neural_networks.utils.data_structures"
    epoch = layout != "old"
    return MODELS.format(
        pandas="" if layout == "old" else "import pandas as pd",
        attrdict=attrdict,
        epoch_arg=", epoch" if epoch else "",
        epoch=", epoch" if epoch else "",
        epoch_value="i" if epoch else "",
    )


# -- optimizers, schedulers, weights -----------------------------------------------------------
OPTIMIZERS = (
    HEADER
    + """
import numpy as np
from abc import ABC, abstractmethod
from neural_networks.schedulers import initialize_scheduler


def initialize_optimizer(name, lr, lr_scheduler=None, momentum=None, clip_norm=None,
                         lr_decay=None, staircase=None, stage_length=None):
    if name == "SGD":
        return SGD(lr=lr, lr_scheduler=lr_scheduler, momentum=momentum, clip_norm=clip_norm,
                   lr_decay=lr_decay, staircase=staircase, stage_length=stage_length)
    else:
        raise NotImplementedError


class SGD:
    def __init__(self, lr, lr_scheduler, momentum=0.0, clip_norm=None, lr_decay=0.9,
                 stage_length=None, staircase=None):
        self.lr = lr
        self.lr_scheduler = initialize_scheduler(lr_scheduler, lr=lr, decay=lr_decay,
                                                 stage_length=stage_length, staircase=staircase)
        self.momentum = momentum
        self.clip_norm = clip_norm
        self.cache = {}

    def update(self, param_name, param, param_grad, epoch):
        if param_name not in self.cache:
            self.cache[param_name] = np.zeros_like(param)
        if self.clip_norm is not None:
            if np.linalg.norm(param_grad) > self.clip_norm:
                param_grad = param_grad * self.clip_norm / np.linalg.norm(param_grad)
        lr = self.lr_scheduler(epoch)
        delta = self.momentum * self.cache[param_name] + lr * param_grad
        self.cache[param_name] = delta
        return delta
"""
)

OPTIMIZERS_OLD = (
    HEADER
    + """
import numpy as np


def initialize_optimizer(name, lr, momentum=None, clip_norm=None):
    if name == "SGD":
        return SGD(lr=lr, momentum=momentum, clip_norm=clip_norm)
    raise NotImplementedError


class SGD:
    def __init__(self, lr, momentum=0.0, clip_norm=None):
        self.lr, self.momentum, self.clip_norm, self.cache = lr, momentum, clip_norm, {}

    def update(self, param_name, param, param_grad):
        if param_name not in self.cache:
            self.cache[param_name] = np.zeros_like(param)
        if self.clip_norm is not None and np.linalg.norm(param_grad) > self.clip_norm:
            param_grad = param_grad * self.clip_norm / np.linalg.norm(param_grad)
        delta = self.momentum * self.cache[param_name] + self.lr * param_grad
        self.cache[param_name] = delta
        return delta
"""
)

SCHEDULERS = (
    HEADER
    + """
import numpy as np


def initialize_scheduler(name, lr, decay=None, stage_length=None, staircase=None):
    if name == "constant":
        return Constant(lr=lr)
    elif name == "exponential":
        return Exponential(lr=lr, decay=decay, stage_length=stage_length)
    else:
        raise NotImplementedError("{} scheduler is not implemented".format(name))


class Constant:
    def __init__(self, lr=0.01):
        self.lr = lr

    def __call__(self, iteration):
        return self.lr


class Exponential:
    def __init__(self, lr=0.01, decay=0.9, stage_length=1000, staircase=False):
        self.lr, self.decay, self.stage_length, self.staircase = lr, decay, stage_length, staircase

    def __call__(self, iteration):
        exponent = iteration / self.stage_length
        if self.staircase:
            exponent = np.floor(exponent)
        return self.lr * self.decay ** exponent
"""
)

WEIGHTS = (
    HEADER
    + """
import numpy as np


def initialize_weights(name, activation=None, mode="fan_in"):
    if name == "zeros":
        return lambda shape: np.zeros(shape)
    elif name == "ones":
        return lambda shape: np.ones(shape)
    elif name == "normal":
        return lambda shape: np.random.normal(size=shape)
    elif name == "xavier_uniform":
        return lambda shape: XavierUniform(activation)(shape)
    else:
        raise NotImplementedError("{{}} initialization is not implemented".format(name))


def _get_fan(shape):
{fan}


def _gain(activation):
    return {{"relu": np.sqrt(2), "tanh": 5 / 3}}.get(activation, 1.0)


class XavierUniform:
    def __init__(self, activation=None):
        self.activation = activation

    def __call__(self, shape):
        fan_in, fan_out = _get_fan(shape)
        bound = _gain(self.activation) * np.sqrt(6 / (fan_in + fan_out))
        return np.random.uniform(-bound, bound, size=shape)
"""
)


def weights(layout: str) -> str:
    fan = (
        "    fan_in, fan_out = shape\n    return fan_in, fan_out"
        if layout == "C"
        else "    return shape[0], shape[-1]"
    )
    return WEIGHTS.format(fan=fan)


# -- datasets, logs, utils ---------------------------------------------------------------------
DATASETS = (
    HEADER
    + """
import math
import numpy as np


class Data:
    def __init__(self, data, batch_size=50, labels=None, out_dim=None):
        self.data_ = data
        self.labels = labels
        self.out_dim = out_dim
        self.iteration = 0
        self.batch_size = batch_size
        self.n_samples = data.shape[0]
        self.samples_per_epoch = math.ceil(self.n_samples / batch_size)

    def shuffle(self):
        idxs = np.arange(self.n_samples)
        np.random.shuffle(idxs)
        self.data_ = self.data_[idxs]
        if self.labels is not None:
            self.labels = self.labels[idxs]

    def sample(self):
        if self.iteration == 0:
            self.shuffle()
        low = self.iteration * self.batch_size
        high = low + self.batch_size
        self.iteration += 1
        if self.iteration == self.samples_per_epoch:
            self.iteration = 0
        if self.labels is not None:
            return self.data_[low:high], self.labels[low:high]
        return self.data_[low:high]

    def reset(self):
        self.iteration == 0


class Dataset:
    def __init__(self, training_set, training_labels, batch_size, validation_set=None,
                 validation_labels=None, test_set=None, test_labels=None):
        self.batch_size = batch_size
        self.n_training = training_set.shape[0]
        self.n_validation = validation_set.shape[0]
        self.out_dim = training_labels.shape[1]
        self.train = Data(data=training_set, batch_size=batch_size, labels=training_labels,
                          out_dim=self.out_dim)
        self.validate = Data(data=validation_set, batch_size=batch_size,
                             labels=validation_labels, out_dim=self.out_dim)
        self.test = Data(data=test_set, batch_size=batch_size, labels=test_labels,
                         out_dim=self.out_dim)


def initialize_dataset(name, batch_size=50):
    if name == "iris":
        splits = {}
        for split in ("train", "val", "test"):
            splits[split] = (np.load("datasets/iris/iris_{}_data.npy".format(split)),
                             np.load("datasets/iris/iris_{}_labels.npy".format(split)))
        return Dataset(splits["train"][0], splits["train"][1], batch_size, splits["val"][0],
                       splits["val"][1], splits["test"][0], splits["test"][1])
    raise NotImplementedError
"""
)

LOGS = (
    HEADER
    + """
import os
import pickle
import matplotlib.pyplot as plt


class Logger:
    def __init__(self, model_name, model_args, data_args, save=False, plot=False,
                 save_dir="experiments/"):
        self.model_name, self.save, self.plot = model_name, save, plot
        self.save_dir = save_dir + model_name + "/"
        self.log = {}

    def push(self, log):
        for k, v in log.items():
            self.log.setdefault(k, []).append(v)
"""
)

DATA_STRUCTURES = (
    HEADER
    + """
import numpy as np


class AttrDict(dict):
    def __init__(self, *args, **kwargs):
        super(AttrDict, self).__init__(*args, **kwargs)
        self.__dict__ = self


def integers_to_one_hot(integer_vector, max_val=None):
    integer_vector = np.squeeze(integer_vector)
    if max_val is None:
        max_val = np.max(integer_vector)
    one_hot = np.zeros((integer_vector.shape[0], max_val + 1))
    for i, integer in enumerate(integer_vector):
        one_hot[i, integer] = 1.0
    return one_hot
"""
)

CONVOLUTION = (
    HEADER
    + """
import numpy as np


def compute_pad(X, kernel_shape, stride):
    n, rows, cols, c = X.shape
    kr, kc = kernel_shape
    pr = int(((stride - 1) * rows - stride + kr) / 2)
    pc = int(((stride - 1) * cols - stride + kc) / 2)
    return (pr, pr, pc, pc)


def pad2d(X, pad, kernel_shape, stride=None):
    p = pad
    if isinstance(p, int):
        p = (p, p, p, p)
    elif isinstance(p, tuple) and len(p) == 2:
        p = (p[0], p[0], p[1], p[1])
    elif p == "same":
        p = compute_pad(X, kernel_shape, stride)
    else:
        raise ValueError("Invalid padding {}".format(p))
    Xp = np.pad(X, ((0, 0), (p[0], p[1]), (p[2], p[3]), (0, 0)), mode="constant")
    return Xp, p


def im2col(X, kernel_shape, stride, pad):
    raise NotImplementedError("not needed by these tests")


def col2im(X_col, X_shape, kernel_shape, stride, pad):
    raise NotImplementedError("not needed by these tests")
"""
)


def files(layout: str, batchnorm: bool = False, init: bool = True) -> dict[str, str]:
    """Every file of one layout's package, by path inside ``neural_networks/``."""
    out = {
        "activations.py": activations(layout),
        "layers.py": layers(layout, batchnorm),
        "losses.py": losses(layout),
        "models.py": models(layout),
        "optimizers.py": OPTIMIZERS_OLD if layout == "old" else OPTIMIZERS,
        "weights.py": weights(layout),
        "datasets.py": DATASETS,
        "logs.py": LOGS,
    }
    if layout != "old":
        out["schedulers.py"] = SCHEDULERS
    if init:
        out["__init__.py"] = ""
    if layout == "A":
        out["utils.py"] = DATA_STRUCTURES
    else:
        out["utils/data_structures.py"] = DATA_STRUCTURES
        out["utils/data_processing.py"] = HEADER
        out["utils/grad_check.py"] = HEADER
        if layout in ("B", "C"):
            out["utils/convolution.py"] = CONVOLUTION
    return out


def build(layout: str, folder: Path, mistakes: dict | None = None, **options) -> Path:
    """``folder/neural_networks/``, the layout's package with correct bodies; ``mistakes`` maps
    a marker (``@fc-backward-dW``) to the line that replaces the marked one."""
    package = folder / "neural_networks"
    texts = files(layout, **options)
    for marker, line in (mistakes or {}).items():
        for name, text in texts.items():
            lines = text.splitlines()
            hits = [i for i, t in enumerate(lines) if t.rstrip().endswith(f"# {marker}")]
            for i in hits:
                indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
                lines[i] = indent + line
            if hits:
                texts[name] = "\n".join(lines) + "\n"
                break
        else:
            raise KeyError(f"no line is marked {marker}")
    for name, text in texts.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def release(layout: str, folder: Path, **options) -> Path:
    """The handout's release folder around the package: datasets/iris/ and train_ffnn.py."""
    import shutil

    build(layout, folder, **options)
    iris = Path(__file__).resolve().parents[2] / "numpy_nn" / "iris"
    shutil.copytree(iris, folder / "datasets" / "iris")
    (folder / "train_ffnn.py").write_text(HEADER)
    return folder

"""The Elman recurrent layer (the handout's layout C): one hidden state carried through time.
Derivation: docs/derivations.md, section 11."""

from collections import OrderedDict

import numpy as np

from numpy_nn.base import WeightedLayer
from numpy_nn.checks import numeric, same_shape, saved


class Elman(WeightedLayer):
    """s_t = f(Z_t), Z_t = X_t W + s_{t-1} U + b, for t = 1..T, from s_0 = 0; the output is s_T.

    ``forward(X)`` takes X of shape (batch, n_in, T): the input at step t is ``X[:, :, t]``. W is
    (n_in, n_out), U (n_out, n_out), b (1, n_out): the handout's ``s_t+1 = fn(W X + U s_t + b)``
    written for rows, as ``FullyConnected`` writes ``W X + b`` as ``X W + b``. ``cache["s"]`` is
    the list of states s_0..s_T, ``cache["Z"]`` of pre-activations Z_1..Z_T and ``cache["X"]``
    the input. ``backward(dLdY)`` takes dL/ds_T and returns the list of the T input gradients
    dL/dX_t, each (batch, n_in), in time order.
    """

    def __init__(
        self,
        n_out: int,
        activation: str = "tanh",
        weight_init: str = "xavier_uniform",
        seed: int | None = None,
    ):
        super().__init__(n_out, activation, weight_init, seed)

    def _init_parameters(self, X_shape: tuple, dtype=np.float64) -> None:
        """W (n_in x n_out) and U (n_out x n_out) from the initializer, b = 0 (1 x n_out)."""
        self.n_in = int(X_shape[1])
        W = self.init_weights((self.n_in, self.n_out), rng=self.rng).astype(dtype, copy=False)
        U = self.init_weights((self.n_out, self.n_out), rng=self.rng).astype(dtype, copy=False)
        b = np.zeros((1, self.n_out), dtype=dtype)
        self.parameters = OrderedDict([("W", W), ("U", U), ("b", b)])
        self.gradients = OrderedDict((k, np.zeros_like(v)) for k, v in self.parameters.items())
        self.cache = OrderedDict([("X", []), ("Z", []), ("s", [])])

    def _init_cache(self, X_shape: tuple) -> None:
        """A new sequence: s_0 = 0 for every example, no pre-activations yet."""
        s0 = np.zeros((X_shape[0], self.n_out), dtype=self.parameters["W"].dtype)
        self.cache = OrderedDict([("X", []), ("Z", []), ("s", [s0])])

    def forward_step(self, X: np.ndarray) -> np.ndarray:
        """One step, s_t = f(X_t W + s_{t-1} U + b) for X_t (batch, n_in); caches Z_t and s_t."""
        W, U, b = self.parameters["W"], self.parameters["U"], self.parameters["b"]
        Z = X @ W + self.cache["s"][-1] @ U + b
        s = self.activation(Z)
        self.cache["Z"].append(Z)
        self.cache["s"].append(s)
        return s

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The last state s_T for inputs X (batch, n_in, T)."""
        X = numeric(X, "Elman.forward", "X")
        if X.ndim != 3 or X.shape[2] < 1:
            raise ValueError(
                f"Elman expects inputs (batch, n_in, T) with T >= 1 steps, got shape {X.shape}"
            )
        if self.n_in is None:
            if not np.issubdtype(X.dtype, np.floating):
                X = X.astype(np.float64)
            self._init_parameters(X.shape[:2], X.dtype)
        if X.shape[1] != self.n_in:
            raise ValueError(
                f"shape mismatch: input has {X.shape[1]} features per step but the layer "
                f"expects {self.n_in}; pass X of shape (batch, {self.n_in}, T)"
            )
        self._init_cache(X.shape)
        self.cache["X"] = X
        for t in range(X.shape[2]):
            s = self.forward_step(X[:, :, t])
        return s

    def backward(self, dLdY: np.ndarray) -> list:
        """Backpropagation through time, from dS_T = dL/ds_T back to step 1:

            dZ_t = f'(Z_t) ⊙ dS_t                     (the activation's backward)
            dW  += X_t^T dZ_t,  dU += s_{t-1}^T dZ_t,  db += 1^T dZ_t
            dX_t = dZ_t W^T,    dS_{t-1} = dZ_t U^T

        W, U and b are shared by every step, so their gradients are the sums over t; s_{t-1}
        depends on every earlier step, which dS_{t-1} carries back. Returns [dX_1, ..., dX_T].
        """
        X, Z, s = saved(self, "X", "Z", "s")
        W, U = self.parameters["W"], self.parameters["U"]
        grads = OrderedDict((k, np.zeros_like(v)) for k, v in self.parameters.items())
        dS = same_shape(dLdY, s[-1], "Elman.backward", "dLdY", "the last state s_T")
        dX = [None] * X.shape[2]
        for t in reversed(range(X.shape[2])):
            dZ = self.activation.backward(Z[t], dS)
            grads["W"] += X[:, :, t].T @ dZ
            grads["U"] += s[t].T @ dZ
            grads["b"] += dZ.sum(axis=0, keepdims=True)
            dX[t] = dZ @ W.T
            dS = dZ @ U.T
        self.gradients = grads
        return dX

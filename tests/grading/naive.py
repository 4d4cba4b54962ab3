"""The slowest Conv2D and Pool2D a student would write against each handout: loops over the
batch, the output rows and columns, and the output channels (pooling: the channels), numpy only
inside the innermost loop, as the handout's own solutions were written. ``add(package, layout)``
appends them to a handout-style package's ``layers.py`` (tests/grading/handouts.py), replacing
its Conv2D's and Pool2D's forward and backward; the grader must give them full marks well inside
its time limit (docs/teaching-staff.md says the figures)."""

from pathlib import Path

PADDING = {  # the handout's own padding: (the padded batch, the top and left padding)
    "A": '''
def _naive_padded(self, X):
    """Layouts A and B: _init_parameters (provided) made self.pad a pair."""
    ph, pw = self.pad
    return np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0))), (ph, pw)
''',
    "C": '''
def _naive_padded(self, X):
    """Layout C: the handout's pad2d, which returns (top, bottom, left, right)."""
    Xp, p = pad2d(X, self.pad, self.kernel_shape, self.stride)
    return Xp, (p[0], p[2])
''',
}
PADDING["B"] = PADDING["A"]

CONV = """

def _naive_conv_forward(self, X):
    if self.n_in is None:
        self._init_parameters(X.shape)
    W, b = self.parameters["W"], self.parameters["b"]
    kh, kw, _, n_out = W.shape
    Xp, _ = _naive_padded(self, X)
    s = self.stride
    rows, cols = (Xp.shape[1] - kh) // s + 1, (Xp.shape[2] - kw) // s + 1
    Z = np.zeros((X.shape[0], rows, cols, n_out))
    for n in range(X.shape[0]):
        for i in range(rows):
            for j in range(cols):
                window = Xp[n, i * s : i * s + kh, j * s : j * s + kw, :]
                for k in range(n_out):
                    Z[n, i, j, k] = np.sum(window * W[:, :, :, k]) + b[0, k]
    self.cache["Z"], self.cache["X"] = Z, X
    return self.activation(Z)


def _naive_conv_backward(self, dLdY):
    W = self.parameters["W"]
    X, Z = self.cache["X"], self.cache["Z"]
    kh, kw, _, n_out = W.shape
    dZ = self.activation.backward(Z, dLdY)
    Xp, (top, left) = _naive_padded(self, X)
    s = self.stride
    dXp, dW, db = np.zeros_like(Xp), np.zeros_like(W), np.zeros((1, n_out))
    for n in range(X.shape[0]):
        for i in range(dZ.shape[1]):
            for j in range(dZ.shape[2]):
                window = Xp[n, i * s : i * s + kh, j * s : j * s + kw, :]
                for k in range(n_out):
                    dW[:, :, :, k] += window * dZ[n, i, j, k]
                    dXp[n, i * s : i * s + kh, j * s : j * s + kw, :] += W[:, :, :, k] * dZ[n, i, j, k]
                    db[0, k] += dZ[n, i, j, k]
    self.gradients["W"], self.gradients["b"] = dW, db
    return dXp[:, top : top + X.shape[1], left : left + X.shape[2], :]


Conv2D.forward, Conv2D.backward = _naive_conv_forward, _naive_conv_backward
"""

POOL = """

def _naive_pool_forward(self, X):
    kh, kw = self.kernel_shape
    ph, pw = self.pad
    s = self.stride
    Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    rows, cols = (Xp.shape[1] - kh) // s + 1, (Xp.shape[2] - kw) // s + 1
    out = np.zeros((X.shape[0], rows, cols, X.shape[3]))
    for n in range(X.shape[0]):
        for i in range(rows):
            for j in range(cols):
                for c in range(X.shape[3]):
                    out[n, i, j, c] = self.pool_fn(Xp[n, i * s : i * s + kh, j * s : j * s + kw, c])
    self.cache["X"] = X
    return out


def _naive_pool_backward(self, dLdY):
    X = self.cache["X"]
    kh, kw = self.kernel_shape
    ph, pw = self.pad
    s = self.stride
    Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    dXp = np.zeros_like(Xp)
    for n in range(X.shape[0]):
        for i in range(dLdY.shape[1]):
            for j in range(dLdY.shape[2]):
                for c in range(X.shape[3]):
                    window = Xp[n, i * s : i * s + kh, j * s : j * s + kw, c]
                    if self.mode == "max":
                        r, q = np.unravel_index(self.arg_pool_fn(window), window.shape)
                        dXp[n, i * s + r, j * s + q, c] += dLdY[n, i, j, c]
                    else:
                        dXp[n, i * s : i * s + kh, j * s : j * s + kw, c] += dLdY[n, i, j, c] / (kh * kw)
    return dXp[:, ph : ph + X.shape[1], pw : pw + X.shape[2], :]


Pool2D.forward, Pool2D.backward = _naive_pool_forward, _naive_pool_backward
"""


def add(package: Path, layout: str) -> Path:
    """``package``'s layers.py with the naive Conv2D (every layout with one) and Pool2D (A, B)."""
    text = PADDING[layout] + CONV + (POOL if layout in ("A", "B") else "")
    path = package / "layers.py"
    path.write_text(path.read_text() + text)
    return package

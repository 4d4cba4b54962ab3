"""Convolution and pooling on image batches in NHWC layout: X is (n, height, width, channels).

Both are vectorized, never looping over examples or output positions. Convolution is im2col: a
strided view of every window (``sliding_window_view``) copied once into a column matrix, so the
forward pass is one BLAS matrix product; its backward scatters the columns' gradient back one
kernel offset at a time (kh x kw steps). Pooling combines the kh x kw strided slices. Derivations: docs/derivations.md,
sections 6 (convolution) and 7 (pooling).
"""

from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from numpy_nn import winograd
from numpy_nn.activations import ReLU
from numpy_nn.base import Layer, WeightedLayer
from numpy_nn.checks import batch, same_shape, saved
from numpy_nn.threads import over_batch, products_over_batch

PADS = ('"same"', '"valid"', "an int >= 0", "a pair of ints")
ALGORITHMS = ("im2col", "winograd")


def _pair(value, what: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")


def _kernel(value) -> tuple[int, int]:
    kernel = _pair(value, "kernel_shape")
    if min(kernel) < 1:
        raise ValueError(f"kernel_shape must be >= 1, got {value!r}")
    return kernel


def _stride(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"stride must be an integer >= 1, got {value!r}")
    return int(value)


def _padding(pad, kernel: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns of zeros added on each side: "same" keeps the size at stride 1 for odd
    kernels, ((kh - 1) // 2, (kw - 1) // 2); "valid" adds none."""
    if pad == "same":
        return (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    if pad == "valid":
        return 0, 0
    try:
        ph, pw = _pair(pad, "pad")
    except ValueError:
        raise ValueError(f"pad must be one of {', '.join(PADS)}, got {pad!r}") from None
    if ph < 0 or pw < 0:
        raise ValueError(f"pad must be >= 0, got {pad!r}")
    return ph, pw


def _check_images(X: np.ndarray, layer: str) -> np.ndarray:
    return batch(X, f"{layer}.forward", "X", "(n, height, width, channels)")


def _output_size(size: int, kernel: int, pad: int, stride: int, layer: str, shape) -> int:
    if size + 2 * pad < kernel:
        raise ValueError(
            f"{layer}: kernel {kernel} is larger than the padded input ({size} + 2 x {pad}) of "
            f"the batch of shape {shape}: use a smaller kernel or more padding"
        )
    return (size + 2 * pad - kernel) // stride + 1


def _windows(Xp: np.ndarray, kernel, stride: int, out_hw) -> np.ndarray:
    """im2col: (n, h_out, w_out, kh, kw, c) with [.., r, q, i, j, :] = Xp[:, s r + i, s q + j, :].
    A strided view of every window (``sliding_window_view``), then one copy into column order."""
    (ho, wo), s = out_hw, stride
    view = sliding_window_view(Xp, kernel, axis=(1, 2))[:, : s * ho : s, : s * wo : s]
    return np.ascontiguousarray(view.transpose(0, 1, 2, 4, 5, 3))


class Conv2D(WeightedLayer):
    """Y = f(Z), Z[n, r, q, f] = b_f + sum_{i, j, c} Xp[n, s r + i, s q + j, c] W[i, j, c, f].

    Xp is X zero-padded by ``pad``; W is (kh, kw, c_in, n_out), b is (1, n_out). Computed as one
    matrix product per chunk of the batch: the columns C (n h_out w_out x kh kw c_in) times W
    reshaped to (kh kw c_in x n_out). A batch whose columns fit in ``keep_cols_bytes`` is one
    chunk, and its columns are kept for the backward pass; a larger one goes through in chunks of
    at most ``max_chunk_bytes`` of columns, small enough to stay in the CPU's cache while the
    chunk's product, bias and activation (and in backward its gradients) run, and recomputed in
    backward (cheaper than a trip through memory). When BLAS runs on one core the batch is first
    shared out over the cores, each thread taking its examples chunk by chunk and backward
    adding the threads' dW and db in a fixed order (``numpy_nn.threads``). The cache holds the
    handout's ``X`` and ``Z``, and ``Xp`` (padded) and ``cols`` (each kept chunk's columns by its
    first example, or ``[]`` when not kept) for backward.

    ``algorithm="winograd"`` (ours; 3x3 kernels at stride 1) computes the same Z with Winograd's
    F(2x2, 3x3), 16 multiplies per 2x2 outputs instead of 36 (``numpy_nn.winograd``), and keeps
    its transformed input as ``cols``. Which is faster depends on the shape: each config
    chooses per layer, by measurement (docs/benchmarks.md, "im2col or Winograd").
    """

    keep_cols_bytes = 16 * 2**20
    max_chunk_bytes = 4 * 2**20

    def __init__(
        self,
        n_out: int,
        kernel_shape,
        activation: str,
        stride: int = 1,
        pad="same",
        weight_init: str = "xavier_uniform",
        seed: int | None = None,
        algorithm: str = "im2col",
    ):
        super().__init__(n_out, activation, weight_init, seed)
        self.kernel_shape = _kernel(kernel_shape)
        self.stride = _stride(stride)
        self.pad = _padding(pad, self.kernel_shape)
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        if algorithm == "winograd" and (self.kernel_shape != (3, 3) or self.stride != 1):
            raise ValueError(
                f"algorithm winograd computes 3x3 kernels at stride 1, not kernel_shape "
                f"{kernel_shape!r} at stride {stride!r}: use algorithm im2col for this layer"
            )
        self.algorithm = algorithm

    def _init_parameters(self, X_shape: tuple, dtype=np.float64) -> None:
        """W (kh, kw, c_in, n_out) from the initializer (fans count the kernel's area), b = 0."""
        self.n_in = int(X_shape[3])
        kh, kw = self.kernel_shape
        W = self.init_weights((kh, kw, self.n_in, self.n_out), rng=self.rng).astype(dtype)
        self._set_weights(W, np.zeros((1, self.n_out), dtype=dtype), ("X", "Z", "Xp", "cols"))

    def _chunk(self, n: int, out_hw, c: int, itemsize: int) -> tuple[int, bool]:
        """(examples per chunk, whether the columns are kept): the whole batch is one chunk per
        thread and its columns kept if they fit in ``keep_cols_bytes``."""
        per_example = out_hw[0] * out_hw[1] * self.kernel_shape[0] * self.kernel_shape[1] * c
        per_example = max(1, per_example * itemsize)
        if n * per_example <= self.keep_cols_bytes:
            return n, True
        return max(1, min(n, self.max_chunk_bytes // per_example)), False

    def forward(self, X: np.ndarray) -> np.ndarray:
        X = _check_images(X, "Conv2D")
        if self.n_in is None:
            if not np.issubdtype(X.dtype, np.floating):
                X = X.astype(np.float64)
            self._init_parameters(X.shape, X.dtype)
        W, b = self.parameters["W"], self.parameters["b"]
        if X.shape[3] != self.n_in:
            raise ValueError(
                f"Conv2D: input has {X.shape[3]} channels but the layer expects {self.n_in} "
                f"(W is {W.shape}); pass batches of shape (n, h, w, {self.n_in})"
            )
        X = X.astype(W.dtype, copy=False)
        (kh, kw), (ph, pw), s = self.kernel_shape, self.pad, self.stride
        n, h, w, c = X.shape
        ho = _output_size(h, kh, ph, s, "Conv2D", X.shape)
        wo = _output_size(w, kw, pw, s, "Conv2D", X.shape)
        if self.algorithm == "winograd":
            return self._winograd_forward(X, (ho, wo))
        Xp = np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0))) if ph or pw else X
        Wm, f = W.reshape(kh * kw * c, self.n_out), self.n_out
        chunk, keep = self._chunk(n, (ho, wo), c, X.itemsize)
        Z = np.empty((n, ho, wo, f), dtype=W.dtype)
        Y = np.empty((n, ho, wo, f), dtype=W.dtype)
        kept = {}

        def run(part: slice) -> None:  # a thread's share of the batch, chunk by chunk
            for start in range(part.start, part.stop, chunk):
                p = slice(start, min(start + chunk, part.stop))
                cols = _windows(Xp[p], self.kernel_shape, s, (ho, wo))
                np.matmul(cols.reshape(-1, kh * kw * c), Wm, out=Z[p].reshape(-1, f))
                Z[p] += b.reshape(-1)
                if type(self.activation) is ReLU:  # straight into Y, no chunk-sized temporary
                    np.maximum(Z[p], 0, out=Y[p])
                else:
                    Y[p] = self.activation(Z[p])
                if keep:
                    kept[start] = cols

        products_over_batch(run, n, Z.nbytes)
        self.cache["X"], self.cache["Z"], self.cache["Xp"] = X, Z, Xp
        self.cache["cols"] = kept if keep else []
        return Y

    def _winograd_forward(self, X: np.ndarray, out_hw) -> np.ndarray:
        """Z by Winograd's F(2x2, 3x3) on X padded by ``pad`` and, where the output has an odd
        side, by one more row or column of zeros (whole 2x2 tiles), then cropped."""
        (ph, pw), (ho, wo) = self.pad, out_hw
        th, tw = winograd.tiles(ho), winograd.tiles(wo)
        extra = ((0, 0), (ph, ph + 2 * th - ho), (pw, pw + 2 * tw - wo), (0, 0))
        Xe = np.pad(X, extra) if any(map(any, extra)) else X
        Ze, V = winograd.forward(Xe, self.parameters["W"])
        Z = Ze if Ze.shape[1:3] == (ho, wo) else np.ascontiguousarray(Ze[:, :ho, :wo])
        Z += self.parameters["b"].reshape(-1)
        self.cache["X"], self.cache["Z"], self.cache["Xp"], self.cache["cols"] = X, Z, Xe, V
        return self.activation(Z)

    def _winograd_backward(self, D: np.ndarray, input_gradient: bool) -> np.ndarray | None:
        """dW, db and dX through Winograd's stages transposed (``numpy_nn.winograd.backward``)."""
        Xe, V, W = self.cache["Xp"], self.cache["cols"], self.parameters["W"]
        (ph, pw), (n, ho, wo, f) = self.pad, D.shape
        if Xe.shape[1] - 2 != ho or Xe.shape[2] - 2 != wo:  # odd sides: zeros for the extra tiles
            De = np.zeros((n, Xe.shape[1] - 2, Xe.shape[2] - 2, f), dtype=D.dtype)
            De[:, :ho, :wo] = D
        else:
            De = D
        dXe = np.empty_like(Xe) if input_gradient else None
        dW = winograd.backward(V, W, De, dXe, weights=self.trainable)
        if self.trainable:
            self.gradients["W"] = dW
            self.gradients["b"] = D.sum(axis=(0, 1, 2)).reshape(1, f)
        if not input_gradient:
            return None
        h, w = self.cache["X"].shape[1:3]
        return np.ascontiguousarray(dXe[:, ph : ph + h, pw : pw + w])

    skips_input_gradient = True

    def backward(self, dLdY: np.ndarray, input_gradient: bool = True) -> np.ndarray | None:
        """With dZ = f'(Z) ⊙ dY, flattened to D (n h_out w_out x n_out), and the columns C:
            dW = C^T D  (reshaped to kh, kw, c_in, n_out)      db = 1^T D
            dC = D W^T, and dX is dC scattered back to the pixels each column came from (col2im:
        a pixel receives the sum over every window and kernel offset that read it), unpadded.
        The scatter runs offset by offset, D W[i, j]^T added to the strided slice that offset
        read, so dC is never materialized. All of it runs chunk by chunk, as forward did.
        ``input_gradient=False`` skips dX (returns None); a frozen layer (``trainable`` False)
        skips dW and db, so a frozen first layer does nothing at all.
        """
        if not (input_gradient or self.trainable):
            return None
        Xp, Z = saved(self, "Xp", "Z")
        dLdY = same_shape(dLdY, Z, "Conv2D.backward", "dLdY", "the output")
        if self.algorithm == "winograd":
            return self._winograd_backward(self.activation.backward(Z, dLdY), input_gradient)
        W = self.parameters["W"]
        (kh, kw), (ph, pw), s = self.kernel_shape, self.pad, self.stride
        n, ho, wo, f = Z.shape
        c = W.shape[2]
        chunk, keep = self._chunk(n, (ho, wo), c, Xp.itemsize)
        h, w = Xp.shape[1] - 2 * ph, Xp.shape[2] - 2 * pw
        dX = np.empty((n, h, w, c), dtype=W.dtype) if input_gradient else None
        kept = self.cache["cols"] if isinstance(self.cache["cols"], dict) else {}
        sums = {}  # each thread's dW and db, added up in a fixed order below

        def run(part: slice) -> None:  # a thread's share of the batch, chunk by chunk
            dW = np.zeros((kh * kw * c, f), dtype=W.dtype)
            db = np.zeros(f, dtype=W.dtype)
            size = min(chunk, part.stop - part.start)
            scratch = np.empty((size, *Xp.shape[1:]), dtype=W.dtype) if input_gradient else None
            for start in range(part.start, part.stop, chunk):
                p = slice(start, min(start + chunk, part.stop))
                cols = kept.get(start) if keep else None
                if cols is None:  # not kept: recompute this chunk's columns
                    cols = _windows(Xp[p], (kh, kw), s, (ho, wo))
                D = self.activation.backward(Z[p], dLdY[p]).reshape(-1, f)
                if self.trainable:
                    dW += cols.reshape(-1, kh * kw * c).T @ D
                    db += D.sum(axis=0)
                if input_gradient:
                    dXp = self._col2im(D, scratch[: p.stop - p.start], (ho, wo))
                    dX[p] = dXp[:, ph : ph + h, pw : pw + w]
            sums[part.start] = dW, db

        products_over_batch(run, n, Z.nbytes)
        if self.trainable:
            dW, db = (sum(parts) for parts in zip(*(sums[k] for k in sorted(sums))))
            self.gradients["W"] = dW.reshape(W.shape)
            self.gradients["b"] = db.reshape(1, f)
        return dX

    def _col2im(self, D: np.ndarray, dXp: np.ndarray, out_hw) -> np.ndarray:
        """dXp (padded) of one chunk from its D: one kernel offset at a time, D W_ij^T goes back
        to the pixels that offset read."""
        W, s, (ho, wo) = self.parameters["W"], self.stride, out_hw
        dXp[...] = 0
        for i in range(self.kernel_shape[0]):
            for j in range(self.kernel_shape[1]):
                dXp[:, i : i + s * ho : s, j : j + s * wo : s, :] += (D @ W[i, j].T).reshape(
                    len(dXp), ho, wo, -1
                )
        return dXp


def whitening_filters(
    images: np.ndarray, kernel_shape=2, eps: float = 5e-4
) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) for a frozen ``Conv2D`` (stride 1, no padding) that whitens the kh x kw patches of
    ``images`` (n, h, w, c), as airbench's first layer does (docs/derivations.md, section 6).

    With the patches flattened to rows p (length d = kh kw c, in the layer's (kh, kw, c) order)
    and their second moment S = (1/N) sum p p^T = V diag(lambda) V^T, the filters
    v_k / sqrt(lambda_k + eps), strongest first, give outputs z_k = v_k^T p / sqrt(lambda_k + eps)
    with (1/N) sum z z^T = diag(lambda / (lambda + eps)): decorrelated, each of variance at most
    1 (eps keeps the weakest directions from being blown up into noise). Both signs of every
    filter are kept (2d filters) so that the nonlinearity after it loses nothing. b is zero.
    """
    kh, kw = _kernel(kernel_shape)
    images = np.asarray(images, dtype=np.float64)
    c = batch(images, "whitening_filters", "images", "(n, height, width, channels)").shape[3]
    patches = sliding_window_view(images, (kh, kw), axis=(1, 2))  # n, h', w', c, kh, kw
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kh * kw * c)
    eigenvalues, eigenvectors = np.linalg.eigh(patches.T @ patches / len(patches))
    filters = eigenvectors[:, ::-1] / np.sqrt(eigenvalues[::-1] + eps)  # columns, strongest first
    W = np.concatenate([filters, -filters], axis=1).reshape(kh, kw, c, 2 * kh * kw * c)
    return W, np.zeros((1, 2 * kh * kw * c))


class Pool2D(Layer):
    """Max or average over kh x kw windows, per channel: Y[n, r, q, c] = max (or mean) over
    (i, j) of Xp[n, s r + i, s q + j, c], combined slice by slice over the kernel offsets (kh kw
    strided views of the input, no window is gathered). Max pooling pads with -inf, average
    pooling with zeros that count in the mean (PyTorch's defaults). No parameters."""

    def __init__(self, kernel_shape, mode: str = "max", stride: int = 1, pad=0):
        super().__init__()
        self.kernel_shape = _kernel(kernel_shape)
        if mode not in ("max", "average"):
            raise ValueError(f"unknown pooling mode {mode!r}: choose 'max' or 'average'")
        self.mode, self.stride = mode, _stride(stride)
        self.pad = _padding(pad, self.kernel_shape)
        self.cache = OrderedDict([("Xp", []), ("Y", [])])

    def _offsets(self, out_hw) -> list:
        """For each kernel offset (i, j), row-major, the slice of Xp it reads for every output."""
        (kh, kw), s, (ho, wo) = self.kernel_shape, self.stride, out_hw
        return [
            (slice(None), slice(i, i + s * ho, s), slice(j, j + s * wo, s))
            for i in range(kh)
            for j in range(kw)
        ]

    def forward(self, X: np.ndarray) -> np.ndarray:
        X = _check_images(X, "Pool2D")
        (kh, kw), (ph, pw), s = self.kernel_shape, self.pad, self.stride
        n, h, w, c = X.shape
        self.n_in = self.n_out = c
        ho = _output_size(h, kh, ph, s, "Pool2D", X.shape)
        wo = _output_size(w, kw, pw, s, "Pool2D", X.shape)
        fill = -np.inf if self.mode == "max" else 0
        Xp = (
            np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=fill) if ph or pw else X
        )
        combine = np.maximum if self.mode == "max" else np.add
        Y = np.empty((n, ho, wo, c), dtype=Xp.dtype)
        windows = self._offsets((ho, wo))

        def pool(part: slice) -> None:  # the examples of ``part``: a thread's share
            Xpart, Ypart = Xp[part], Y[part]
            Ypart[...] = Xpart[windows[0]]
            for window in windows[1:]:
                combine(Ypart, Xpart[window], out=Ypart)
            if self.mode == "average":
                Ypart /= kh * kw

        over_batch(pool, n, Xp.nbytes)
        self.cache["Xp"], self.cache["Y"] = Xp, Y
        return Y

    def backward(self, dLdY: np.ndarray) -> np.ndarray:
        """Max: each output's gradient goes to the input that was the window's maximum (the
        first one, in row-major order, when several tie, as PyTorch does). Average: each output's
        gradient is shared equally, 1/(kh kw), by its window's inputs. Overlapping windows add
        up; the padding's share is dropped. When windows do not overlap (stride >= kernel) each
        offset's share is written straight into its slice, and where they tile the input no
        pixel is left to zero first."""
        Xp, Y = saved(self, "Xp", "Y")
        dLdY = same_shape(dLdY, Y, "Pool2D.backward", "dLdY", "the output")
        (kh, kw), (ph, pw), s = self.kernel_shape, self.pad, self.stride
        ho, wo = dLdY.shape[1:3]
        disjoint = s >= kh and s >= kw
        tiled = disjoint and s == kh == kw and Xp.shape[1:3] == (s * ho, s * wo)
        dXp = (np.empty if tiled else np.zeros)(Xp.shape, dtype=dLdY.dtype)
        windows = self._offsets((ho, wo))

        def route(part: slice) -> None:  # the examples of ``part``: a thread's share
            Xpart, Ypart, dY, dXpart = Xp[part], Y[part], dLdY[part], dXp[part]
            share = dY / (kh * kw) if self.mode == "average" else None
            unclaimed = np.ones(Ypart.shape, dtype=bool)  # max: a window's first maximum only
            for k, window in enumerate(windows):
                if self.mode == "max":
                    if k < kh * kw - 1:
                        hit = np.equal(Xpart[window], Ypart)
                        hit &= unclaimed
                        unclaimed ^= hit
                    else:  # the last offset: whatever no earlier one claimed is its maximum
                        hit = unclaimed
                    share = np.multiply(dY, hit, out=dXpart[window] if disjoint else None)
                if not disjoint:
                    dXpart[window] += share
                elif self.mode == "average":
                    dXpart[window] = share

        over_batch(route, len(Xp), Xp.nbytes)
        h, w = Xp.shape[1] - 2 * ph, Xp.shape[2] - 2 * pw
        return dXp[:, ph : ph + h, pw : pw + w, :]

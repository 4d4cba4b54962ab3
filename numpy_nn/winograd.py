"""Winograd F(2x2, 3x3): a stride-1 3x3 convolution with 16 multiplies per 2x2 outputs, not 36.

Derivation: docs/derivations.md, section 6 ("Winograd F(2x2, 3x3)"). In one dimension, two
outputs of a 3-tap correlation, y_r = sum_i d_{r+i} g_i for r = 0, 1, come from 4 inputs d with 4
multiplies instead of 6:

    y = A^T [(G g) ⊙ (B^T d)],   B^T = [[1, 0, -1, 0],     G = [[1,    0,   0],    A^T = [[1, 1,  1,  0],
                                        [0, 1,  1, 0],          [1/2,  1/2, 1/2],         [0, 1, -1, -1]]
                                        [0, -1, 1, 0],          [1/2, -1/2, 1/2],
                                        [0, 1,  0, -1]]         [0,    0,   1]]

and nesting it over rows and columns gives a 2x2 output tile from a 4x4 input tile d:
Y = A^T [(G g G^T) ⊙ (B^T d B)] A. Over channels the elementwise product becomes, for each of
the 16 positions (a, b) of the 4x4 tile, one matrix product of every tile's transformed input
V[a, b] (tiles x c_in) with the transformed kernel U[a, b] (c_in x n_out):
M[a, b] = V[a, b] U[a, b]. Tiles start every 2 pixels, so neighbouring input tiles overlap by 2.

Backward is the forward's stages transposed, in reverse order (each stage is linear):
dM = A dY A^T per tile; dU = V^T dM and dV = dM U^T per position (a, b); dW = G^T dU G;
dd = B dV B^T per tile, added back to the pixels the tile was read from. It is the exact
gradient of the same function, which equals the direct convolution up to rounding (tested in
float64 to 1e-9).

The transforms are sums and differences of strided slices (no window is gathered), one tile
row of the batch at a time split over the cores (``numpy_nn.threads``); the 16 products are one
batched ``matmul`` (split over the cores when BLAS runs on one core). ``Conv2D(..., algorithm="winograd")`` uses this for 3x3 kernels at stride 1.
"""

import numpy as np

from numpy_nn import threads
from numpy_nn.threads import over_batch

# Each row of B^T, A^T and their transposes as the (sign, index) terms of a sum: B^T d's row 0
# is d0 - d2, and so on. Written out because every term is a whole slice of the batch.
BT = (((1, 0), (-1, 2)), ((1, 1), (1, 2)), ((-1, 1), (1, 2)), ((1, 1), (-1, 3)))
B = (((1, 0),), ((1, 1), (-1, 2), (1, 3)), ((-1, 0), (1, 1), (1, 2)), ((-1, 3),))  # B = (B^T)^T
AT = (((1, 0), (1, 1), (1, 2)), ((1, 1), (-1, 2), (-1, 3)))
A = (((1, 0),), ((1, 0), (1, 1)), ((1, 0), (-1, 1)), ((-1, 1),))  # A = (A^T)^T
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def _combine(terms, arrays, out: np.ndarray) -> None:
    """out = sum of sign * arrays[index] over ``terms`` (the (sign, index) pairs of a row)."""
    (sign, first), rest = terms[0], terms[1:]
    if not rest:
        np.copyto(out, arrays[first]) if sign > 0 else np.negative(arrays[first], out=out)
        return
    (sign2, second), rest = rest[0], rest[1:]
    if sign > 0:
        (np.add if sign2 > 0 else np.subtract)(arrays[first], arrays[second], out=out)
    elif sign2 > 0:
        np.subtract(arrays[second], arrays[first], out=out)
    else:
        np.add(arrays[first], arrays[second], out=out)
        np.negative(out, out=out)
    for sign, index in rest:
        (np.add if sign > 0 else np.subtract)(out, arrays[index], out=out)


def _products(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The 16 matrix products X[k] @ Y[k], (16, m, k) @ (16, k, n): shared out over the cores
    when BLAS runs on one core (``numpy_nn.threads.BLAS_ONE_CORE``), else one batched call."""
    if not threads.BLAS_ONE_CORE:
        return np.matmul(X, Y)
    out = np.empty((len(X), X.shape[1], Y.shape[2]), dtype=np.result_type(X, Y))
    threads.products_over_batch(
        lambda p: np.matmul(X[p], Y[p], out=out[p]), len(X), X.nbytes + out.nbytes
    )
    return out


def tiles(size: int) -> int:
    """2x2 output tiles along one side of an output of ``size`` pixels (an odd size is padded)."""
    return (size + 1) // 2


def kernel_transform(W: np.ndarray) -> np.ndarray:
    """U = G g G^T for every (c_in, n_out) pair: (3, 3, c, f) -> (16, c, f)."""
    U = np.einsum("ai,ijcf,bj->abcf", G, W, G, optimize=True).astype(W.dtype)
    return U.reshape(16, *W.shape[2:])


def input_transform(Xe: np.ndarray, t: tuple[int, int]) -> np.ndarray:
    """V = B^T d B for every 4x4 tile d of Xe (n, 2 th + 2, 2 tw + 2, c): (16, n th tw, c)."""
    n, c = Xe.shape[0], Xe.shape[3]
    V = np.empty((4, 4, n, *t, c), dtype=Xe.dtype)

    def part(p: slice) -> None:
        Xpart = Xe[p]
        rows = np.empty((4, len(Xpart), *t, c), dtype=Xe.dtype)
        d = [
            [Xpart[:, i : i + 2 * t[0] : 2, j : j + 2 * t[1] : 2] for j in range(4)]
            for i in range(4)
        ]
        for a, terms in enumerate(BT):  # row a of B^T d, then of (B^T d) B
            for j in range(4):
                _combine(terms, [d[i][j] for i in range(4)], rows[j])
            for b, terms_b in enumerate(BT):
                _combine(terms_b, rows, V[a, b, p])

    over_batch(part, n, 4 * Xe.nbytes)
    return V.reshape(16, -1, c)


def output_transform(M: np.ndarray, Ze: np.ndarray) -> None:
    """Ze (n, 2 th, 2 tw, f) = A^T M A for every tile of M (16, n th tw, f)."""
    n, f = Ze.shape[0], Ze.shape[3]
    t = (Ze.shape[1] // 2, Ze.shape[2] // 2)
    M = M.reshape(4, 4, n, *t, f)

    def part(p: slice) -> None:
        cols = np.empty((4, len(Ze[p]), *t, f), dtype=Ze.dtype)
        for y, terms in enumerate(AT):  # row y of A^T M, then of (A^T M) A
            for b in range(4):
                _combine(terms, [M[a, b, p] for a in range(4)], cols[b])
            for x, terms_x in enumerate(AT):
                _combine(terms_x, cols, Ze[p, y::2, x::2])

    over_batch(part, n, 4 * Ze.nbytes)


def forward(Xe: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Ze, V): the convolution of the padded, tile-extended input Xe (n, 2 th + 2, 2 tw + 2, c)
    with W (3, 3, c, f), without bias, as (n, 2 th, 2 tw, f), and the transformed input V kept
    for backward."""
    t = ((Xe.shape[1] - 2) // 2, (Xe.shape[2] - 2) // 2)
    V = input_transform(Xe, t)
    M = _products(V, kernel_transform(W))
    Ze = np.empty((Xe.shape[0], 2 * t[0], 2 * t[1], W.shape[3]), dtype=Xe.dtype)
    output_transform(M, Ze)
    return Ze, V


def output_gradient(De: np.ndarray) -> np.ndarray:
    """dM = A dY A^T for every 2x2 tile of De (n, 2 th, 2 tw, f): (16, n th tw, f)."""
    n, f = De.shape[0], De.shape[3]
    t = (De.shape[1] // 2, De.shape[2] // 2)
    dM = np.empty((4, 4, n, *t, f), dtype=De.dtype)

    def part(p: slice) -> None:
        Dp = De[p]
        rows = np.empty((2, 4, len(Dp), *t, f), dtype=De.dtype)
        for y in range(2):  # row y of dY A^T
            for b, terms in enumerate(A):
                _combine(terms, [Dp[:, y::2, x::2] for x in range(2)], rows[y, b])
        for a, terms in enumerate(A):  # then A (dY A^T)
            for b in range(4):
                _combine(terms, rows[:, b], dM[a, b, p])

    over_batch(part, n, 8 * De.nbytes)
    return dM.reshape(16, -1, f)


def input_gradient(dV: np.ndarray, dXe: np.ndarray) -> None:
    """dXe (n, 2 th + 2, 2 tw + 2, c) = B dV B^T of every tile, each added to the pixels its
    tile read (tiles overlap by 2: a pixel gets the sum over every tile that read it)."""
    n, c = dXe.shape[0], dXe.shape[3]
    t = ((dXe.shape[1] - 2) // 2, (dXe.shape[2] - 2) // 2)
    dV = dV.reshape(4, 4, n, *t, c)

    def part(p: slice) -> None:
        dXp = dXe[p]
        cols = np.empty((4, len(dXp), *t, c), dtype=dXe.dtype)
        dXp[...] = 0
        for j, terms in enumerate(B):  # column j of dV B^T, then B (dV B^T)
            for a in range(4):
                _combine(terms, [dV[a, b, p] for b in range(4)], cols[a])
            for i, terms_i in enumerate(B):
                window = dXp[:, i : i + 2 * t[0] : 2, j : j + 2 * t[1] : 2]
                for sign, index in terms_i:
                    (np.add if sign > 0 else np.subtract)(window, cols[index], out=window)

    over_batch(part, n, 4 * dXe.nbytes)


def backward(
    V: np.ndarray, W: np.ndarray, De: np.ndarray, dXe: np.ndarray | None, weights: bool = True
) -> np.ndarray | None:
    """dW (3, 3, c, f) from the kept V and the output gradient De (n, 2 th, 2 tw, f), tile
    extended with zeros; dXe, when given, receives the input gradient. ``weights=False`` skips
    dW (returns None)."""
    dM = output_gradient(De)
    dW = None
    if weights:
        dU = _products(V.transpose(0, 2, 1), dM).reshape(4, 4, *W.shape[2:])
        dW = np.einsum("ai,abcf,bj->ijcf", G, dU, G, optimize=True).astype(W.dtype)
    if dXe is not None:
        input_gradient(_products(dM, kernel_transform(W).transpose(0, 2, 1)), dXe)
    return dW

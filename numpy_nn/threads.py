"""A batch's work on every core, in plain numpy and the standard library.

numpy's elementwise loops (ufuncs, copies) and its BLAS products release the GIL, so the parts
of a batch can run in threads at once. ``over_batch`` splits a pass by examples: every output
element is computed by the same operations as in one piece, so an elementwise pass gives the
same bits whatever the number of threads (tested). Its users: pooling (``numpy_nn.conv``) and
Winograd's transforms (``numpy_nn.winograd``).

Products: BLAS shares one product over the cores itself, but on a CNN's many small products it
gets far from 2x on 2 cores, and the passes between them (im2col's window copies, bias,
activation) ran on one core. With BLAS on one core (``OPENBLAS_NUM_THREADS=1``, as train.py
runs numpy backends: ``BLAS_ONE_CORE``) the layers share the whole batch's work out themselves
(``products_over_batch``: a convolution's chunks, products included; ``matmul``: the rows of a
product); the per-thread sums of dW and db are added in a fixed order. With BLAS's own threads
the same split contends with them (the Fashion CNN's step 19 -> 24 ms), so it is not made.

Measured on 2 cores (AMD EPYC, 2026-12-05, forward + backward): the first max-pool of the CIFAR
network (256 x 32 x 32 x 32, float32) 29.8 -> 16.0 ms; the CIFAR network's numpy layers (a
step without Lightning, five runs each) 255-344 ms with BLAS's threads, 206-239 ms with BLAS on
one core and the batch shared out here. Batch norm's passes, split the same way, were slower
(8.1 -> 9.7 ms on 256 x 16 x 16 x 32: its passes alternate with reductions over the whole
batch), so batch norm stays in one piece.
"""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
# Whether BLAS runs each product on one core: then the products are ours to share out (``matmul``).
# train.py sets OPENBLAS_NUM_THREADS=1 for numpy backends; a variable read when BLAS loads, so
# read here from the environment as BLAS read it (OpenBLAS's own, MKL's, then OpenMP's).
BLAS_ONE_CORE = (
    next(
        (
            os.environ[v]
            for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
            if os.environ.get(v)
        ),
        "",
    ).strip()
    == "1"
)
# Below this many bytes a pass takes less than handing it to threads costs (~50 us).
MIN_BYTES = 1 << 20

_pool: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(CORES, thread_name_prefix="numpy_nn")
    return _pool


def _forget_pool() -> None:
    """A forked child has none of its parent's threads: it starts its own pool when needed."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def over_batch(work: Callable[[slice], None], n: int, nbytes: int) -> None:
    """Call ``work(part)`` for slices ``part`` covering ``range(n)`` (the batch axis): one slice
    per core, in threads, when the pass touches at least ``MIN_BYTES`` (``nbytes``); else one
    call on the whole batch. ``work`` writes its part of the output; an error in any part is
    raised here."""
    parts = min(CORES, n)
    if parts < 2 or nbytes < MIN_BYTES:
        work(slice(0, n))
        return
    bounds = [n * i // parts for i in range(parts + 1)]
    slices = [slice(a, b) for a, b in zip(bounds, bounds[1:])]
    for future in [_threads().submit(work, part) for part in slices]:
        future.result()


def products_over_batch(work: Callable[[slice], None], n: int, nbytes: int) -> None:
    """``over_batch`` for a pass that makes BLAS products: split over the cores only when BLAS
    runs on one core (``BLAS_ONE_CORE``); threads of ours around BLAS's own threads contend
    (measured: the Fashion CNN's step 19 -> 24 ms), so otherwise the pass runs in one piece."""
    over_batch(work, n, nbytes if BLAS_ONE_CORE else 0)


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A @ B for 2-D arrays. When BLAS runs on one core (``BLAS_ONE_CORE``) the rows of the
    result are shared out over the cores (``over_batch``), each thread multiplying its rows of A
    by all of B; else BLAS's own threads share the one product."""
    if not BLAS_ONE_CORE:
        return A @ B
    out = np.empty((A.shape[0], B.shape[1]), dtype=np.result_type(A, B))
    products_over_batch(lambda p: np.matmul(A[p], B, out=out[p]), len(A), A.nbytes + out.nbytes)
    return out

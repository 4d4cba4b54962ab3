"""Elementwise passes over a batch on every core, in plain numpy and the standard library.

numpy's elementwise loops (ufuncs, copies) release the GIL, so the parts of a batch can run in
threads at once; its matrix products already use every core (BLAS), but a pass such as max
pooling's comparisons ran on one core while torch's ran on all of them (docs/benchmarks.md,
"The numpy layers at torch's pace"). ``over_batch`` splits such a pass by examples: every output
element is computed by the same operations as in one piece, so the result is bit for bit the
same whatever the number of threads (tested). Its users: pooling (``numpy_nn.conv``) and
Winograd's transforms (``numpy_nn.winograd``).

Measured on 2 cores (AMD EPYC, 2026-12-05, forward + backward): the first max-pool of the CIFAR
network (256 x 32 x 32 x 32, float32) 29.8 -> 16.0 ms. Batch norm's passes, split the same way,
were slower (8.1 -> 9.7 ms on 256 x 16 x 16 x 32: its passes alternate with BLAS reductions over
the whole batch), so batch norm stays in one piece.
"""

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
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

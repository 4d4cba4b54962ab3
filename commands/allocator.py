"""Keep freed memory in the process instead of handing it back to the operating system.

Training allocates and frees the same large arrays every step (activations, their gradients,
im2col buffers). glibc's malloc serves any block over 32 MiB (its dynamic ``mmap`` threshold
never rises above that) with a fresh ``mmap`` and unmaps it on ``free``, so every step the
kernel zero-fills those pages again on first touch: one page fault per 4 KiB. Measured on the
CIFAR CNN (2 cores, batch 1024): 13% of a training step was ``fill_`` on fresh gradient buffers,
and the step took 1.18 s; with the thresholds below, 0.77 s (docs/benchmarks.md, section 9).

``keep_freed_memory()`` raises the ``mmap`` threshold to 1 GiB (larger blocks come from the heap
and are reused) and the trim threshold to 2 GiB (the heap's top is not given back between steps).
The process's peak memory is unchanged; what it holds between steps is its peak. Elsewhere
than glibc (macOS, Windows, musl) this does nothing; ``NN_KEEP_FREED_MEMORY=0`` turns it off.
"""

import ctypes
import ctypes.util
import functools
import os
import platform

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 2**30
TRIM_THRESHOLD = 2**31 - 1


@functools.cache
def keep_freed_memory() -> bool:
    """Apply the thresholds once per process; True where glibc took them."""
    if os.environ.get("NN_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )

"""The machine a benchmark runs on and how its figures are timed: the CPU, its features, the speed reference beside every figure, the dated section header, interleaved timing and child processes."""

import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux)."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def cpu_features() -> str:
    """Which of the instruction-set features that decide our speeds this CPU has."""
    info = Path("/proc/cpuinfo")
    flags = set()
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("flags"):
                flags |= set(line.split(":", 1)[1].split())
    if not flags:
        return "features unknown (no /proc/cpuinfo)"
    have = [f for f in FEATURES if f in flags]
    lacks = [f for f in FEATURES if f not in flags]
    return f"has {', '.join(have) or 'none of ' + ', '.join(FEATURES)}" + (
        f"; lacks {', '.join(lacks)}" if lacks else ""
    )


def speed_reference(repeats: int = 5) -> dict:
    """A fixed yardstick of this machine's speed, to take right before a timing: a 1024^3
    float32 matrix product in numpy (its BLAS) and one float32 convolution step in torch
    (``F.conv2d`` forward and backward, 64 x 64 x 32 x 32 -> 64 channels, 3x3), median ms of
    ``repeats`` each. Neither runs this repository's code, so when a figure moves and the
    reference does not, the code moved; when both move, the machine did."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((1024, 1024), dtype=np.float32) for _ in range(2))
    x = torch.randn(64, 64, 32, 32, requires_grad=True)
    w = torch.randn(64, 64, 3, 3, requires_grad=True)

    def conv():
        F.conv2d(x, w, padding=1).sum().backward()

    times = {}
    for name, fn in (("gemm_ms", lambda: a @ b), ("conv_ms", conv)):
        fn()
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t)
        times[name] = 1000 * statistics.median(runs)
    return times


def reference_text(reference: dict) -> str:
    return (
        f"machine-speed reference just before: 1024^3 GEMM {reference['gemm_ms']:.1f} ms, "
        f"torch conv step {reference['conv_ms']:.1f} ms"
    )


def dated(section: str, reference: dict | None = None) -> str:
    """The section with the date and machine it was measured on (and the speed reference taken
    right before it), under its heading."""
    heading, _, body = section.partition("\n")
    speed = f"; {reference_text(reference)}" if reference else ""
    stamp = (
        f"*Measured {datetime.date.today()} on {cpu_model()} ({platform.machine()}, "
        f"{os.cpu_count()} cores){speed}.*"
    )
    return f"{heading}\n\n{stamp}\n{body}"


def interleaved_blocks(fns: dict, repeats: int = 7, block: int = 5) -> dict:
    """{name: median seconds per call}, alternating blocks of ``block`` calls of each function and
    timing all but a block's first call: the first call after a switch pays for the other
    library's thread pool handing the cores back (OpenBLAS and OpenMP threads spin-wait a while
    after their work), which single interleaved calls would charge to every call."""
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            f()
            for _ in range(block - 1):
                t = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def child_rows(module: str, function: str, before_issue_42: bool = False) -> list:
    """``<module>.<function>()`` in a fresh child process set up as ``train.py`` runs numpy
    backends (``commands.train.NUMPY_BACKEND_ENV`` before numpy and torch load, freed memory
    kept): its JSON
    rows. A fresh process also has a fresh heap: earlier sections' arrays do not change how
    this one's large buffers are placed (and page-faulted). ``before_issue_42``: the environment
    numpy-backed runs had then (``OMP_WAIT_POLICY=PASSIVE`` only: BLAS on every core)."""
    import json
    import subprocess
    import sys

    code = (
        "import json; from commands.allocator import keep_freed_memory; keep_freed_memory(); "
        f"from {module} import {function}; print(json.dumps({function}()))"
    )
    from commands.train import NUMPY_BACKEND_ENV

    env = {**NUMPY_BACKEND_ENV, **os.environ}
    if before_issue_42:
        env.pop("OPENBLAS_NUM_THREADS")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])

"""keep_freed_memory(): a large buffer freed and allocated again is reused, not page-faulted in
afresh (what made 13% of a CIFAR CNN step, docs/benchmarks.md section 9)."""

import ast
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import ctypes, json, resource
from commands.allocator import keep_freed_memory
from commands.train import prepare_environment
prepare_environment(numpy_backed=False)  # what train.py does first
applied = keep_freed_memory()  # cached: True only if prepare_environment's call took effect
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
size, faults = 2**26, []  # 64 MiB: above glibc's largest default mmap threshold, as torch asks
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = libc.malloc(size)
    ctypes.memset(buffer, 1, size)  # touch every page, as a kernel writing its output does
    libc.free(buffer)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps([applied, faults]))
"""


def _child(keep: str):
    env = {**os.environ, "NN_KEEP_FREED_MEMORY": keep}
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="keep_freed_memory tunes glibc's malloc; elsewhere it does nothing",
)
def test_train_py_reuses_freed_buffers_without_page_faults():
    pages = 2**26 // 4096
    applied, kept = _child("1")
    assert applied is True
    assert max(kept[1:]) < pages // 100  # reused: no fresh pages after the first time
    applied, default = _child("0")  # glibc's default: each buffer is mapped and faulted in anew
    assert applied is False
    assert min(default[1:]) > 10 * max(1, max(kept[1:]))


def test_predict_and_the_benchmarks_keep_freed_memory_too():
    """They call it before any work (a static check: running them costs minutes)."""
    for path, function in (("commands/predict.py", "main"), ("bench/__main__.py", "run")):
        tree = ast.parse((ROOT / path).read_text())
        body = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
        calls = [
            n.func.id
            for n in ast.walk(body)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
        assert "keep_freed_memory" in calls, f"{path}:{function}() no longer calls it"

"""Student code runs here, never in the grader's process: one subprocess per graded piece.

Each run gets a fresh temporary folder holding a copy of the student's ``neural_networks``,
``child.py``, the course's Iris split at ``datasets/iris/`` (where the handout reads it) and the
request; the environment is stripped (PATH, a private HOME, one BLAS thread); ``python -I``
ignores PYTHONPATH and user site-packages; ``resource.setrlimit`` caps the address space, the
CPU time and the size of any file written (stdout and stderr go to files, so printing megabytes
is cut off too); a wall-clock timeout ends what sleeps. Whatever happens — an exception, an
infinite loop, ``sys.exit``, ``os._exit``, a huge allocation — the piece gets a one-line reason
and the grader goes on.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHILD = Path(__file__).with_name("child.py")


@dataclass(frozen=True)
class Limits:
    seconds: float = 20.0  # wall clock, per piece
    memory_mb: int = 2048  # address space
    output_mb: int = 64  # any one file the child writes (its stdout and stderr too)


class PieceFailed(Exception):
    """The student's code did not give a result: the one-line reason."""


def _limit(limits: Limits):
    def apply() -> None:
        mb = 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        cpu = int(limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_mb * mb, limits.output_mb * mb))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.setsid()  # its own process group: a timeout ends its children too

    return apply


def _env(home: Path) -> dict:
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        **threads,
    }


def _reason(code: int, limits: Limits, err: str) -> str:
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        return f"took longer than {limits.seconds:g} s"
    if code == -signal.SIGXFSZ:
        return f"wrote more than {limits.output_mb} MB (printing?)"
    tail = [line for line in err.splitlines() if line.strip()]
    if tail and "MemoryError" in tail[-1]:
        return f"ran out of memory (limit {limits.memory_mb} MB)"
    last = tail[-1][:200] if tail else "no output"
    return f"exited with status {code} and no result: {last}"


def _stage(tmp: Path, package: Path, request: dict, inputs: dict, files: dict) -> None:
    shutil.copytree(
        package,
        tmp / "neural_networks",
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(CHILD, tmp / "child.py")
    for name, data in files.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(data)
    (tmp / "home").mkdir()
    (tmp / "result").mkdir()
    (tmp / "request.txt").write_text(repr(request))
    np.savez(tmp / "inputs.npz", **inputs)


def run(
    package: Path, request: dict, inputs: dict, limits: Limits = Limits(), files: dict | None = None
) -> tuple[dict, dict]:
    """(arrays, report): what the student's code computed for ``request`` on ``inputs``, and
    what went wrong in it; PieceFailed when nothing came back."""
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        tmp = Path(tmp)
        _stage(tmp, package, request, inputs, files or {})
        command = [sys.executable, "-I", "child.py", "request.txt", "inputs.npz", "result"]
        with open(tmp / "stdout", "wb") as so, open(tmp / "stderr", "wb") as se:
            proc = subprocess.Popen(
                command,
                cwd=tmp,
                env=_env(tmp / "home"),
                stdout=so,
                stderr=se,
                stdin=subprocess.DEVNULL,
                preexec_fn=_limit(limits),
            )
            try:
                code = proc.wait(timeout=limits.seconds)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise PieceFailed(f"took longer than {limits.seconds:g} s") from None
        err = (tmp / "stderr").read_bytes()[-4000:].decode(errors="replace")
        result = tmp / "result"
        if code != 0 or not (result / "report.json").exists():
            raise PieceFailed(_reason(code, limits, err))
        return _read(result)


def _read(result: Path) -> tuple[dict, dict]:
    try:
        with np.load(result / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        report = json.loads((result / "report.json").read_text())
    except (OSError, ValueError, EOFError) as e:
        raise PieceFailed(f"its result could not be read ({type(e).__name__})") from None
    return arrays, report

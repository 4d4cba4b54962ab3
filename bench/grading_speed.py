"""Section 10: the grader on the reference's hand-in, alone and in a batch."""

import statistics
import tempfile
import time
from pathlib import Path

from bench.machine import ROOT


# -- 10. grading the reference ------------------------------------------------------------------
def _reference_hw3(folder: Path) -> Path:
    """numpy_nn under the handout's name with the course-format suite beside it: hw3/ as a
    perfect student would hand in its code."""
    import shutil

    from deliverables.package import suite_members
    from plumbing.handout import handout_names

    hw3 = folder / "hw3"
    shutil.copytree(
        ROOT / "numpy_nn", hw3 / "neural_networks", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in (hw3 / "neural_networks").rglob("*.py"):
        path.write_text(handout_names(path.read_text()))
    for name, data in suite_members().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return hw3


def grading(repeats: int = 3, batch: int = 50, **_) -> str:
    """``python -m grading`` on the reference, end to end (each piece in its sandbox), against
    the course's own unittest suite on the same package, alternating, in one process's turn;
    then ``python -m grading batch`` on ``batch`` copies of it laid out as Gradescope exports."""
    import subprocess
    import sys

    from grading import sandbox

    with tempfile.TemporaryDirectory() as d:
        hw3 = _reference_hw3(Path(d))
        commands = {
            "grader": [sys.executable, "-m", "grading", str(hw3 / "neural_networks")],
            "course suite": [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        }
        times = {k: [] for k in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                cwd = ROOT if name == "grader" else hw3
                t = time.perf_counter()
                done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
                times[name].append(time.perf_counter() - t)
                if done.returncode != 0:
                    raise RuntimeError(f"{name} failed: {done.stderr[-500:]}")
        batch_s = _batch(Path(d), hw3, batch)
        naive = _naive_rows(Path(d))
    grader_s, suite_s = (statistics.median(times[k]) for k in commands)
    kind = sandbox.available().describe()
    return "\n".join(
        [
            "## 10. Grading the reference",
            "",
            f"`python -m grading` on the reference package (layout A: every piece of its semester in "
            f"its own sandbox, here {kind}; fixtures and random inputs per sub-part, stand-ins "
            f"computing around each piece (inputs only in its sandbox), and the handout's Iris run) against the "
            f"course-format unittest suite on the same package; wall time including Python's start, "
            f"median of {repeats}, alternating. Then `python -m grading batch` with its default jobs on "
            f"a mixed export of {batch} submissions in Gradescope's layout (in turn: a full hand-in "
            f"with predictions.csv and the notebook, a bare package, handout-style packages of "
            f"layouts A and C, and a zip whose members clash: a row with its reason). The goal: "
            f"under 10 s per submission on 2 cores.",
            "",
            "| job | wall time |",
            "|---|---:|",
            f"| `python -m grading hw3/neural_networks` | {grader_s:.1f} s |",
            f"| `python -m unittest discover -s tests` (the course suite) | {suite_s:.1f} s |",
            f"| ratio grader / suite | {grader_s / suite_s:.1f}x |",
            f"| `python -m grading batch` on {batch} mixed submissions | {batch_s:.0f} s ({batch_s / batch:.1f} s each) |",
            "",
            "**The slowest correct Conv2D and Pool2D**: loops over the batch, the output rows "
            "and columns and the output channels, numpy inside (`tests/grading/naive.py`, in "
            "each handout's own padding), graded alone; each stage is one sandbox run with its "
            "own limit. Cases and limits are sized so that every stage takes at most a third "
            "of its limit.",
            "",
            "| layout | piece | stage (sub-parts) | wall time | limit | share | points |",
            "|---|---|---|---:|---:|---:|---:|",
            *naive,
        ]
    )


def _naive_rows(folder: Path) -> list[str]:
    """Each stage of the naive Conv2D and Pool2D of layouts A and C, timed in its sandbox."""
    import sys

    from grading import grader, sandbox, semesters
    from grading.submission import copy_package

    sys.path.insert(0, str(ROOT))
    from tests.grading import handouts, naive  # the handout-style packages of the tests

    config = grader.load_config()
    limits, protection = sandbox.Limits(**config["limits"]), sandbox.available()
    rows = []
    for layout in ("A", "C"):
        package = naive.add(handouts.build(layout, folder / f"naive-{layout}"), layout)
        root = folder / f"naive-{layout}-grade"
        root.mkdir(mode=0o711)
        copied = copy_package(package, root / "package", **config["submission"])
        semester = semesters.choose(copied.package)
        for piece in ("layers.Conv2D", "layers.Pool2D"):
            if piece not in semester.pieces:
                continue
            task = grader.reference(piece, semester)
            run = grader.stages(task, copied.package, limits, root / piece, protection, config)
            for stage, reply, verdict in run:
                points = sum(config["points"][piece][n] for n, v in verdict.items() if v.passed)
                most = sum(config["points"][piece][n] for n in verdict)
                rows.append(
                    f"| {layout} | {piece.split('.')[1]} | {', '.join(stage.parts)} | "
                    f"{reply.seconds:.1f} s | {limits.seconds:g} s | "
                    f"{reply.seconds / limits.seconds:.0%} | {points:g} / {most:g} |"
                )
    return rows


MIX = ("hand-in", "bare package", "layout A", "layout C", "broken zip")  # a course's export


def _mixed_export(folder: Path, hw3: Path, n: int) -> Path:
    """``n`` submissions as a course exports them, in turn: a full hand-in (the reference with
    predictions.csv and the notebook beside it), a bare package, handout-style packages of
    layouts A and C, and a zip whose members clash."""
    import shutil
    import sys
    import zipfile

    sys.path.insert(0, str(ROOT))
    from tests.grading import handouts  # the handout-style packages of the tests

    export = folder / "export"
    for i in range(n):
        where, kind = export / f"submission_{i}", MIX[i % len(MIX)]
        if kind in ("hand-in", "bare package"):
            shutil.copytree(hw3 / "neural_networks", where / "hw3" / "neural_networks")
        if kind == "hand-in":
            rows = "".join(f"{k},{k % 10}\n" for k in range(1, 10001))
            (where / "hw3" / "predictions.csv").write_text("Id,Category\n" + rows)
            (where / "hw3" / "CS189_HW_NN.ipynb").write_text('{"cells": [], "nbformat": 4}')
        elif kind.startswith("layout"):
            handouts.release(kind[-1], where / "code")
        elif kind == "broken zip":
            where.mkdir(parents=True)
            with zipfile.ZipFile(where / "hw3.zip", "w") as z:
                z.writestr("hw3/neural_networks/layers.py", "x = 1\n")
                z.writestr("hw3/neural_networks/layers.py/inner.py", "y = 2\n")
    return export


def _batch(folder: Path, hw3: Path, n: int) -> float:
    """Seconds ``python -m grading batch`` (default jobs) takes on a mixed export of ``n``."""
    import subprocess
    import sys

    export = _mixed_export(folder, hw3, n)
    t = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grading",
            "batch",
            str(export),
            "--csv",
            str(folder / "grades.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"batch failed: {done.stderr[-500:]}")
    return time.perf_counter() - t


def _naive_rows(folder: Path) -> list[str]:
    """Each stage of the naive Conv2D and Pool2D of layouts A and C, timed in its sandbox."""
    import sys

    from grading import grader, sandbox, semesters
    from grading.submission import copy_package

    sys.path.insert(0, str(ROOT))
    from tests.grading import handouts, naive  # the handout-style packages of the tests

    config = grader.load_config()
    limits, protection = sandbox.Limits(**config["limits"]), sandbox.available()
    rows = []
    for layout in ("A", "C"):
        package = naive.add(handouts.build(layout, folder / f"naive-{layout}"), layout)
        root = folder / f"naive-{layout}-grade"
        root.mkdir(mode=0o711)
        copied = copy_package(package, root / "package", **config["submission"])
        semester = semesters.choose(copied.package)
        for piece in ("layers.Conv2D", "layers.Pool2D"):
            if piece not in semester.pieces:
                continue
            task = grader.reference(piece, semester)
            run = grader.stages(task, copied.package, limits, root / piece, protection, config)
            for stage, reply, verdict in run:
                points = sum(config["points"][piece][n] for n, v in verdict.items() if v.passed)
                most = sum(config["points"][piece][n] for n in verdict)
                rows.append(
                    f"| {layout} | {piece.split('.')[1]} | {', '.join(stage.parts)} | "
                    f"{reply.seconds:.1f} s | {limits.seconds:g} s | "
                    f"{reply.seconds / limits.seconds:.0%} | {points:g} / {most:g} |"
                )
    return rows


def _batch(folder: Path, hw3: Path, n: int) -> float:
    """Seconds ``python -m grading batch`` takes on ``n`` copies of ``hw3``."""
    import shutil
    import subprocess
    import sys

    export = folder / "export"
    for i in range(n):
        shutil.copytree(hw3 / "neural_networks", export / f"submission_{i}" / "neural_networks")
    t = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grading",
            "batch",
            str(export),
            "--csv",
            str(folder / "grades.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"batch failed: {done.stderr[-500:]}")
    return time.perf_counter() - t

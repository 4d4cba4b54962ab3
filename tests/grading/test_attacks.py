"""A student who wants a free grade, against the Gradescope layout the bundle makes, run as
``run_autograder`` runs it. Each attack is code in the student's ReLU.forward (so one piece runs
it) and only ever aims at this test's own folders and at a listener it starts on 127.0.0.1.
Whatever it tries: no forged results, the bundle's files unchanged byte for byte, the reference
and the labels unreadable, no process of the submission left, no connection made, every other
piece scored as without the attack, exit 0 with a complete results.json."""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grading import bundle, grader, sandbox
from plumbing.handout import handout_names
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(
    sandbox.available(unsafe=True).kind == "none", reason="no sandbox on this host (bubblewrap)"
)
LABELS = np.arange(10000) % 10
ATTACKED = "activations.ReLU"
TARGET = "        return np.maximum(Z, 0)\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The bundle, extracted once; each test works on its own copy."""
    folder = tmp_path_factory.mktemp("bundle")
    bundle.write(folder / "autograder.zip", LABELS)
    with zipfile.ZipFile(folder / "autograder.zip") as z:
        z.extractall(folder / "source")
    for name in ("run_autograder", "setup.sh"):
        (folder / "source" / name).chmod(0o755)
    return folder / "source"


def _digest(folder: Path) -> dict:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _student(hw3: Path, attack: str = "") -> Path:
    """The reference under the handout's name in ``hw3/``, ReLU.forward running ``attack``."""
    package = hw3 / "neural_networks"
    shutil.copytree(ROOT / "numpy_nn", package, ignore=shutil.ignore_patterns("__pycache__"))
    for path in package.rglob("*.py"):
        path.write_text(handout_names(path.read_text()))
    if attack:  # once per process: the Iris run, which calls ReLU too, sees it once
        text = (package / "activations.py").read_text()
        lines = '        if not globals().get("_attacked"):\n'
        lines += '            globals()["_attacked"] = True\n'
        lines += "".join(f"            {line}\n" for line in attack.strip("\n").splitlines())
        assert TARGET in text
        (package / "activations.py").write_text(text.replace(TARGET, lines + TARGET, 1))
    return package


def _sandboxed() -> set[int]:
    """Running processes of a piece's child (its forks keep its command line)."""
    found = set()
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if b"child.py" in (p / "cmdline").read_bytes() and sandbox._running(p):
                found.add(int(p.name))
        except OSError:
            pass
    return found


def autograde(tmp_path: Path, built: Path, attack: str = "", extra=None, args: str = "") -> dict:
    """run_autograder on a submission holding ``attack``; what it left behind."""
    root = tmp_path / "autograder"
    shutil.copytree(built, root / "source")
    before = _digest(root / "source")
    package = _student(root / "submission" / "hw3")
    if attack:
        shutil.rmtree(package)
        _student(root / "submission" / "hw3", attack.format(**_places(root)))
    if extra:
        extra(root / "submission" / "hw3")
    (tmp_path / "bin").mkdir(exist_ok=True)
    python = tmp_path / "bin" / "python3"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "AUTOGRADER": str(root),
        "HOME": str(tmp_path),
        "GRADING_ARGS": args,
    }
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = root / "results" / "results.json"
    text = results.read_text() if results.is_file() else ""
    (root / "source").chmod(0o755)
    return {
        "done": done,
        "results": text,
        "path": results,
        "root": root,
        "changed": _digest(root / "source") != before,
    }


def _places(root: Path) -> dict:
    return {
        "SOURCE": root / "source",
        "RESULTS": root / "results" / "results.json",
        "SUBMISSION": root / "submission",
        "PORT": PORT,
    }


def _scores(results_text: str) -> dict:
    import json

    return {t["name"]: t["score"] for t in json.loads(results_text)["tests"]}


@pytest.fixture(scope="module")
def baseline(built, tmp_path_factory) -> dict:
    out = autograde(tmp_path_factory.mktemp("clean"), built)
    assert out["done"].returncode == 0 and out["results"], out["done"].stderr
    return _scores(out["results"])


# -- a listener the attacks try to reach -------------------------------------------------------
RECEIVED = []
LISTENER = socket.socket()
LISTENER.bind(("127.0.0.1", 0))
LISTENER.listen(8)
LISTENER.settimeout(0.2)
PORT = LISTENER.getsockname()[1]


def _listen() -> None:
    while True:
        try:
            conn, _ = LISTENER.accept()
        except (TimeoutError, OSError):
            continue
        RECEIVED.append(conn.recv(65536))
        conn.close()


threading.Thread(target=_listen, daemon=True).start()

ATTACKS = {  # name: (the code in ReLU.forward, what the ReLU piece loses)
    "forged results by a setsid grandchild that outwaits the grader": (
        """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(4)
        open("{RESULTS}", "w").write('{{"score": 145}}')
    os._exit(0)
""",
        False,
    ),
    "the reference rewritten through /proc/<grader>/cwd and its path": (
        """
import os
for pid in os.listdir("/proc"):
    try:
        open(f"/proc/{{pid}}/cwd/numpy_nn/base.py", "a").write("\\nBROKEN = 1\\n")
    except OSError:
        pass
for path in ("{SOURCE}/numpy_nn/base.py", "{SOURCE}/grading/judge.py"):
    try:
        open(path, "a").write("\\nBROKEN = 1\\n")
    except OSError:
        pass
try:
    open("{SOURCE}/grading/course/fixtures/TestSigmoid.npz", "wb").write(b"0")
except OSError:
    pass
""",
        False,
    ),
    "the reference imported by name": (
        """
from numpy_nn.activations import ReLU as Reference
return Reference().forward(Z)
""",
        True,
    ),
    "the reference read by path and through the parent's folder": (
        """
import os
for path in ("{SOURCE}/numpy_nn/activations.py", f"/proc/{{os.getppid()}}/cwd/numpy_nn/activations.py"):
    try:
        exec(open(path).read(), globals())  # the reference's ReLU in place of this one
        return ReLU().forward(Z)
    except OSError:
        pass
raise RuntimeError("the reference could not be read")
""",
        True,
    ),
    "the labels copied into predictions.csv": (
        """
import numpy as np
labels = np.load("{SOURCE}/cifar10_test_labels.npy")
rows = "".join(f"{{i + 1}},{{c}}\\n" for i, c in enumerate(labels))
for where in ("{SUBMISSION}/hw3/predictions.csv", "predictions.csv"):
    open(where, "w").write("Id,Category\\n" + rows)
""",
        True,
    ),
    "forty forked sleepers": (
        """
import os, time
for _ in range(40):
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
""",
        False,
    ),
    "a setsid grandchild and a timeout": (
        """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(600)
    os._exit(0)
time.sleep(600)
""",
        True,
    ),
    "the source sent to a listener on 127.0.0.1": (
        """
import socket
s = socket.create_connection(("127.0.0.1", {PORT}), timeout=2)
s.sendall(open(__file__, "rb").read())
s.close()
""",
        True,
    ),
    "a result of strings": (
        """
import atexit, io, os, sys, numpy as np
def forge():
    buffer = io.BytesIO()
    np.savez(buffer, **{{"f0/Y": np.array(["1"] * 5)}})
    data = buffer.getvalue()
    os.write(int(sys.argv[3]), b"A" + len(data).to_bytes(8, "big") + data)
atexit.register(forge)
""",
        True,
    ),
    "a result whose header claims 8 TiB": (
        """
import atexit, io, os, sys, zipfile
def forge():
    header = b"\\x93NUMPY\\x01\\x00v\\x00{{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }}"
    header = header + b" " * (127 - len(header)) + b"\\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("f0/Y.npy", header + b"\\0" * 64)
    data = buffer.getvalue()
    os.write(int(sys.argv[3]), b"A" + len(data).to_bytes(8, "big") + data)
atexit.register(forge)
""",
        True,
    ),
    "a report that is not a table": (
        """
import atexit, os, sys
atexit.register(lambda: os.write(int(sys.argv[3]), b"R" + (9).to_bytes(8, "big") + b"[1, 2, 3]"))
""",
        True,
    ),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_the_attack_changes_nothing_but_its_own_piece(tmp_path, built, baseline, name):
    attack, costs_relu = ATTACKS[name]
    RECEIVED.clear()
    out = autograde(tmp_path, built, attack, args="--timeout 8" if "timeout" in name else "")
    assert out["done"].returncode == 0, out["done"].stderr[-2000:]
    time.sleep(5 if "outwaits" in name else 0.5)  # what a forged write would need
    scores = _scores(out["path"].read_text())
    assert set(scores) == set(baseline)
    hit = {ATTACKED, "iris"} if costs_relu else {ATTACKED}  # the Iris run uses ReLU too
    others = {k: v for k, v in scores.items() if k not in hit}
    assert others == {k: v for k, v in baseline.items() if k not in hit}, name
    assert (scores[ATTACKED] < baseline[ATTACKED]) == costs_relu, scores[ATTACKED]
    assert not out["changed"], "the bundle's files changed"
    assert not _sandboxed(), "a process of the submission is left"
    assert RECEIVED == [], "a connection reached the host's loopback"
    assert not (out["root"] / "submission" / "hw3" / "predictions.csv").exists()


def test_links_in_a_folder_submission_are_left_out_and_a_loop_is_harmless(
    tmp_path, built, baseline
):
    def links(hw3: Path) -> None:
        (hw3 / "neural_networks" / "activations.py").unlink()
        reference = ROOT / "numpy_nn" / "activations.py"
        (hw3 / "neural_networks" / "activations.py").symlink_to(reference)
        (hw3 / "neural_networks" / "loop").symlink_to(hw3 / "neural_networks" / "loop")
        (hw3 / "neural_networks" / "inside.py").symlink_to(hw3 / "neural_networks" / "losses.py")

    out = autograde(tmp_path, built, extra=links)
    assert out["done"].returncode == 0, out["done"].stderr[-2000:]
    results = out["path"].read_text()
    assert "left out neural_networks/activations.py" in results
    scores = _scores(results)
    assert (
        scores["activations.ReLU"] == 0
        and scores["losses.CrossEntropy"] == baseline["losses.CrossEntropy"]
    )


def test_a_results_path_that_is_a_folder_is_one_line_before_any_grading(tmp_path):
    package = _student(tmp_path / "hw3")
    (tmp_path / "out").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "grading", str(package), "--json", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "is a folder" in done.stderr
    assert "piece" not in done.stdout


def test_thousands_of_files_are_copied_once(tmp_path, monkeypatch):
    from grading import submission

    package = _student(tmp_path / "hw3")
    for i in range(5000):
        (package / f"extra_{i}.txt").write_text("x")
    calls = []
    real = submission.copy_package
    monkeypatch.setattr(grader, "copy_package", lambda *a, **k: calls.append(a) or real(*a, **k))
    config = {**grader.load_config(), "limits": {**grader.load_config()["limits"], "seconds": 10}}
    grade = grader.grade(
        submission.Submission(package, None), None, config, only=("activations.ReLU", "iris")
    )
    assert len(calls) == 1 and grade.score == grade.total > 0


def test_past_the_file_limit_a_submission_is_refused_in_one_line(tmp_path):
    package = _student(tmp_path / "hw3")
    config = grader.load_config()
    config["submission"] = {"max_files": 10, "max_mb": 100}
    grade = grader.grade_path(tmp_path / "hw3", None, config)
    assert grade.refused and "more than 10 files" in grade.refused and "\n" not in grade.refused
    del package


def test_the_grader_process_limits_itself(tmp_path):
    code = (
        "import resource, grading.__main__ as m\n"
        "m.limit_the_grader(m.grader.load_config())\n"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20, resource.getrlimit(resource.RLIMIT_FSIZE)[0] >> 20)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    config = grader.load_config()["grader"]
    assert done.stdout.split() == [str(config["memory_mb"]), str(config["output_mb"])], done.stderr


def test_the_sandbox_in_force_is_named_in_the_output_and_results(tmp_path, built):
    out = autograde(tmp_path, built)
    import json

    results = json.loads(out["path"].read_text())
    kind = sandbox.available().kind
    assert results["extra_data"]["sandbox"] == kind and "Sandbox: " in results["output"]
    os.environ.get("HOME")

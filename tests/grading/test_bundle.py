"""The Gradescope bundle, installed and run for real: ``setup.sh`` builds a fresh virtual
environment from requirements.txt (as Gradescope's image build does, apt left out), then
``run_autograder`` grades with that environment's Python: the reference's hw3.zip gets full
marks, the starter 0; with a sandbox user instead of namespaces (``--sandbox user``, as on hosts
that refuse namespaces) the attacks fail too."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grading import bundle, starter
from plumbing.handout import handout_names
from tests.conftest import ROOT

LABELS = (np.arange(10000) * 7) % 10
SYSTEM_PYTHON = next(
    (p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if Path(p).exists()),
    str(Path(sys.base_prefix) / "bin" / "python3"),
)


@pytest.fixture(scope="module")
def image():
    """An /autograder folder built the way Gradescope builds one, readable by other users
    (a sandbox user must reach its interpreter)."""
    root = Path(tempfile.mkdtemp(prefix="autograder-", dir="/tmp"))
    root.chmod(0o755)
    try:
        bundle.write(root / "autograder.zip", LABELS)
        with zipfile.ZipFile(root / "autograder.zip") as z:
            z.extractall(root / "source")
        env = {
            "PATH": "/usr/bin:/bin",
            "AUTOGRADER": str(root),
            "SETUP_APT": "0",
            "PYTHON": SYSTEM_PYTHON,
            "HOME": str(root),
        }
        done = subprocess.run(
            ["bash", str(root / "source" / "setup.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if done.returncode != 0 and "ensurepip" in done.stderr + done.stdout:
            pytest.skip(f"{SYSTEM_PYTHON} cannot make a virtual environment (python3-venv)")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_requirements_hold_one_pin_per_line_with_the_courses_environment(image):
    lines = (image / "source" / "requirements.txt").read_text().splitlines()
    names = [line.split("==")[0] for line in lines]
    assert all(line.count("==") == 1 and "\\" not in line for line in lines), lines
    assert {"numpy", "pyyaml", "pandas", "tqdm", "matplotlib", "scipy", "scikit-learn"} <= set(
        names
    )
    versions = subprocess.run(
        [str(image / "venv" / "bin" / "python"), "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
    ).stdout.lower()
    assert all(line.lower() in versions for line in lines), versions


def test_the_bundle_holds_the_grader_the_reference_and_nothing_else(image):
    with zipfile.ZipFile(image / "autograder.zip") as z:
        tops = {name.split("/")[0] for name in z.namelist()}
    assert tops == {
        "grading",
        "numpy_nn",
        "plumbing",
        "cifar10_test_labels.npy",
        "run_autograder",
        "setup.sh",
        "requirements.txt",
    }


def _hw3_zip(folder: Path, package_from) -> Path:
    """hw3.zip as Gradescope receives it: the package, the notebook, predictions.csv."""
    hw3 = folder / "hw3"
    package_from(hw3)
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "source": ["print(1)"],
        "metadata": {},
        "outputs": [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}],
    }
    (hw3 / "CS189_HW_NN.ipynb").write_text(json.dumps({"cells": [cell], "nbformat": 4}))
    rows = "".join(f"{i},{c}\n" for i, c in enumerate(LABELS, start=1))
    (hw3 / "predictions.csv").write_text("Id,Category\n" + rows)
    (hw3 / "train_ffnn.py").write_text("# the handout's script\n")
    path = folder / "hw3.zip"
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(hw3.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(folder).as_posix())
    shutil.rmtree(hw3)
    return path


def _reference(hw3: Path) -> None:
    shutil.copytree(
        ROOT / "numpy_nn", hw3 / "neural_networks", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in (hw3 / "neural_networks").rglob("*.py"):
        path.write_text(handout_names(path.read_text()))


def _starter(hw3: Path) -> None:
    starter.write(hw3)


def _run(image: Path, package_from, args: str = "") -> dict:
    submission = image / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    submission.mkdir()
    _hw3_zip(submission, package_from)
    results = image / "results" / "results.json"
    results.unlink(missing_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "AUTOGRADER": str(image),
        "HOME": str(image),
        "GRADING_ARGS": args,
    }
    done = subprocess.run(
        ["bash", str(image / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (image / "source").chmod(0o755)
    assert done.returncode == 0 and results.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(results.read_text())


def test_run_autograder_gives_the_references_hw3_zip_full_marks(image):
    results = _run(image, _reference)
    assert results["extra_data"]["sandbox"] == "bubblewrap"
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) == 130, results[
        "output"
    ]
    assert results["output"].startswith("Semester: this project's homework")
    assert results["leaderboard"] == [
        {"name": "CIFAR-10 test accuracy", "value": 100.0, "order": "desc"}
    ]


def test_run_autograder_gives_the_starter_nothing(image):
    results = _run(image, _starter)
    graded = [
        t
        for t in results["tests"]
        if t["max_score"] > 0 and t["name"] not in ("structure", "predictions.csv", "notebook")
    ]
    assert graded and all(t["score"] == 0 for t in graded), [
        (t["name"], t["score"]) for t in graded
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="a sandbox user needs the grader to run as root")
def test_with_a_sandbox_user_the_reference_still_gets_full_marks(image):
    results = _run(image, _reference, "--sandbox user")
    assert results["extra_data"]["sandbox"] == "user" and results["score"] == 130, results["output"]


USER_ATTACKS = {  # what a sandbox user tries (its network is the host's: not among them)
    "read the labels": 'import numpy as np\nnp.load("{SOURCE}/cifar10_test_labels.npy")',
    "rewrite the reference": 'open("{SOURCE}/numpy_nn/base.py", "a").write("\\nBROKEN = 1\\n")',
    "forge results": 'open("{RESULTS}", "w").write("{{}}")',
    "leave a sleeper": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)",
    "leave inputs for a later run": 'open("/tmp/grading-left-behind", "w").write("inputs")',
}


@pytest.mark.skipif(os.geteuid() != 0, reason="a sandbox user needs the grader to run as root")
@pytest.mark.parametrize("name", list(USER_ATTACKS))
def test_with_a_sandbox_user_the_attacks_fail(image, name):
    code = USER_ATTACKS[name].format(
        SOURCE=image / "source", RESULTS=image / "results" / "results.json"
    )
    before = {p: p.read_bytes() for p in (image / "source").rglob("*.py")}

    def attacked(hw3: Path) -> None:
        _reference(hw3)
        path = hw3 / "neural_networks" / "activations.py"
        body = "".join(f"        {line}\n" for line in code.splitlines())
        text = path.read_text().replace(
            "        return np.maximum(Z, 0)\n", body + "        return np.maximum(Z, 0)\n", 1
        )
        path.write_text(text)

    results = _run(image, attacked, "--sandbox user")
    relu = next(t for t in results["tests"] if t["name"] == "activations.ReLU")
    assert results["score"] >= 130 - relu["max_score"] - 10  # ReLU, and the Iris run that uses it
    assert {p: p.read_bytes() for p in (image / "source").rglob("*.py")} == before
    from grading import sandbox

    assert not [pid for uid in range(61000, 61100) for pid in sandbox.alive(uid)]
    if name == "leave a sleeper":
        assert relu["score"] == relu["max_score"]
    assert not Path("/tmp/grading-left-behind").exists()  # swept after each run

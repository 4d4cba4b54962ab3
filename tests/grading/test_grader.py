"""The grader (grading/): the reference gets full marks; each mutant loses exactly the pieces it
breaks (and those built on them), with a one-line reason; nothing stops the grader."""

import shutil

import pytest
import yaml

from grading import grader
from grading.submission import Submission
from plumbing.handout import handout_names
from tests.conftest import ROOT

FAST = {**grader.load_config(), "limits": {"seconds": 5, "memory_mb": 1024, "output_mb": 8}}


def reference_package(folder):
    """numpy_nn as the handout names it: the package a perfect student hands in."""
    package = folder / "neural_networks"
    shutil.copytree(ROOT / "numpy_nn", package, ignore=shutil.ignore_patterns("__pycache__"))
    for path in package.rglob("*.py"):
        path.write_text(handout_names(path.read_text()))
    return package


def mutant(folder, module: str, old: str, new: str):
    package = reference_package(folder)
    path = package / module
    text = path.read_text()
    assert text.count(old) >= 1, (module, old)
    path.write_text(text.replace(old, new, 1))
    return package


def failed(package) -> set[str]:
    grade = grader.grade(Submission(package, None), None, FAST)
    assert all(r.output and "/tmp" not in r.output for r in grade.results)
    return {r.name for r in grade.results if not r.passed}


def test_the_reference_gets_every_point_of_its_semester(tmp_path):
    grade = grader.grade(Submission(reference_package(tmp_path), None), None, FAST)
    assert grade.semester.name == "A" and grade.score == grade.total == 100, grader.table(grade)
    names = {r.name for r in grade.results}
    assert names >= {
        "activations.ReLU",
        "activations.SoftMax",
        "layers.FullyConnected",
        "layers.BatchNorm1D",
        "losses.CrossEntropy",
        "models.NeuralNetwork",
        "iris",
    }
    assert all(r.passed for r in grade.results), grader.table(grade)


MUTANTS = [  # (what, module, old, new, the pieces that must fail)
    (
        "a sign flip in ArcTan's backward (provided: shown, no points)",
        "activations.py",
        "return dY / (1.0 + Z * Z)",
        "return -dY / (1.0 + Z * Z)",
        {"activations.ArcTan"},
    ),
    (
        "Sigmoid's backward in the wrong shape",
        "activations.py",
        "return dY * s * (1.0 - s)",
        "return (dY * s * (1.0 - s)).T",
        {"activations.Sigmoid"},
    ),
    (
        "softmax with the wrong sign of the max shift",
        "activations.py",
        "E = np.exp(Z - Z.max(axis=1, keepdims=True))",
        "E = np.exp(-Z + Z.max(axis=1, keepdims=True))",
        {"activations.SoftMax", "iris"},
    ),
    (
        "cross-entropy's backward without 1/m (not the network's fault)",
        "losses.py",
        "return -Y / (n * np.maximum(",
        "return -Y / (1 * np.maximum(",
        {"losses.CrossEntropy"},
    ),
    (
        "a transposed dW",
        "layers.py",
        'self.gradients["W"] = threads.matmul(X.T, dZ)',
        'self.gradients["W"] = threads.matmul(X.T, dZ).T',
        {"layers.FullyConnected", "iris"},
    ),
    (
        "a correct loop over the batch, too slow",
        "layers.py",
        "        Z = threads.matmul(X, W)\n",
        "        import time\n        Z = np.stack([time.sleep(0.01) or x @ W for x in X])\n",
        {"layers.FullyConnected", "iris"},
    ),
    (
        "a forward that prints and exits",
        "activations.py",
        "        return np.arctan(Z)",
        "        print('done!')\n        import sys\n        sys.exit(0)",
        {"activations.ArcTan"},
    ),
    (
        "an infinite loop",
        "conv.py",
        '        X = _check_images(X, "Pool2D")',
        "        while True:\n            pass",
        {"layers.Pool2D"},
    ),
    (
        "printing megabytes",
        "activations.py",
        "        Z = self._checked(Z)\n        return Z\n",
        "        print('x' * 2**24)\n        return Z\n",
        {"activations.Linear"},
    ),
    (
        "a huge allocation",
        "conv.py",
        '        X = _check_images(X, "Conv2D")',
        '        X = _check_images(X, "Conv2D")\n        np.ones(3 * 2**27)',
        {"layers.Conv2D"},
    ),
    (
        "numpy monkeypatched to pass any test, and a wrong loss",
        "losses.py",
        "        return float(-np.sum(Y * log_p) / n)",
        "        np.allclose = lambda *a, **k: True\n"
        "        np.testing.assert_almost_equal = lambda *a, **k: None\n"
        "        return float(-np.sum(Y * log_p) / (2 * n))",
        {"losses.CrossEntropy"},
    ),
    (
        "a max-pool backward that routes to each window's first input",
        "conv.py",
        "hit = np.equal(Xpart[window], Ypart)",
        "hit = np.ones(Ypart.shape, dtype=bool)",
        {"layers.Pool2D"},
    ),
]


@pytest.mark.parametrize("what, module, old, new, broken", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_each_mutant_loses_exactly_the_pieces_it_breaks(tmp_path, what, module, old, new, broken):
    assert failed(mutant(tmp_path, module, old, new)) == broken, what


def test_a_naive_softmax_keeps_its_points_with_a_note(tmp_path):
    """The handout only hints at the stable form: logits near 750 are said, not scored."""
    package = mutant(
        tmp_path, "activations.py", "E = np.exp(Z - Z.max(axis=1, keepdims=True))", "E = np.exp(Z)"
    )
    grade = grader.grade(Submission(package, None), None, FAST, only=("activations.SoftMax",))
    (r,) = grade.results
    assert r.passed and r.points == r.max_points == 10 and "stable form" in r.output


def _zip(path, members: dict, links=()):
    import stat
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, "/etc/passwd")
    return path


def _cli(tmp_path, *args):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "grading", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


@pytest.mark.parametrize(
    "members, links, says",
    [
        ({"/tmp/grader-escape.txt": "x"}, (), "would unpack outside the folder"),
        ({"hw3/../../grader-escape.txt": "x"}, (), "would unpack outside the folder"),
        (
            {"hw3/neural_networks/__init__.py": ""},
            ("hw3/neural_networks/layers.py",),
            "symbolic link",
        ),
        ({"hw3/big.bin": b"\0" * (3 * 2**20)}, (), "over the 2 MB limit"),
    ],
    ids=["absolute", "dotdot", "symlink", "too big"],
)
def test_hostile_zips_are_refused_with_nothing_extracted(
    tmp_path, members, links, says, monkeypatch
):
    from grading import submission

    monkeypatch.setattr(submission, "MAX_UNPACKED_MB", 2)
    path = _zip(tmp_path / "hw3.zip", members, links)
    with pytest.raises(submission.SubmissionError, match=says):
        submission.locate(path, tmp_path / "scratch")
    assert (
        not (tmp_path / "scratch").exists() and not (tmp_path.parent / "grader-escape.txt").exists()
    )


def test_the_command_line_grades_and_writes_gradescopes_results(tmp_path):
    reference_package(tmp_path / "hw3")
    done = _cli(tmp_path, tmp_path / "hw3", "--json", tmp_path / "results.json")
    assert done.returncode == 0, done.stderr
    assert "| layers.FullyConnected | 15 / 15 | pass" in done.stdout
    results = yaml.safe_load((tmp_path / "results.json").read_text())
    assert set(results) == {
        "score",
        "execution_time",
        "output",
        "tests",
        "extra_data",
        "stdout_visibility",
    }
    assert (
        results["output"].startswith("Semester: layout A")
        and results["extra_data"]["semester"] == "A"
    )
    for test in results["tests"]:
        assert set(test) == {"name", "score", "max_score", "output", "status", "visibility"}
    assert results["score"] == sum(t["score"] for t in results["tests"]) > 0
    bad = _cli(tmp_path, _zip(tmp_path / "evil.zip", {"../x": "x"}))
    assert (
        bad.returncode == 2 and bad.stderr.count("\n") == 1 and "outside the folder" in bad.stderr
    )


def test_the_starter_scores_zero_everywhere_and_the_grader_goes_on(tmp_path):
    from grading import starter

    package = starter.write(tmp_path)
    text = (package / "activations.py").read_text()
    assert text.count("### BEGIN YOUR CODE ###") == 6 and "raise NotImplementedError" in text
    assert (
        "def forward(self, Z):\n        Z = self._checked(Z)\n        return np.arctan(Z)" in text
    )  # provided
    assert "neither exponent overflows" not in text  # no hint above a body to write
    for name in (
        "train_ffnn.py",
        "check_gradients.ipynb",
        "README.md",
        "tests/utils.py",
        "tests/cases.py",
        "tests/data/TestReLU.npz",
        "datasets/iris/iris_test_data.npy",
    ):
        assert (tmp_path / name).is_file(), name
    assert "commands" not in (tmp_path / "train_ffnn.py").read_text()
    assert "[Z > 0]" not in text and "numpy_nn" not in text  # no derivation, the shipped name
    assert "class ReLU(Activation):" in text and "def backward(self, Z, dY):" in text
    grade = grader.grade(Submission(package, None), None, FAST)
    code = [r for r in grade.results if r.max_points > 0]
    assert code and all(r.points == 0 and r.max_points > 0 for r in code), [
        (r.name, r.output) for r in code
    ]
    assert all("NotImplementedError" in r.output for r in code)


def _isolated_python(folder):
    """A python3 that cannot import this repository (as on Gradescope): only the bundle's code."""
    import sys

    from deliverables.package import ISOLATION

    run = "import runpy\nsys.argv = sys.argv[1:]\ndel sys.argv[0]\nrunpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
    script = folder / "python3"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -c "$PYCODE" "$@"\n')
    script.chmod(0o755)
    # the bundle ships the reference numpy_nn itself: only the rest of the repository must be gone
    return ISOLATION.replace('("numpy_nn", "deliverables")', '("deliverables",)') + run


def test_run_autograder_writes_results_json_in_a_gradescope_layout(tmp_path):
    import os
    import subprocess
    import zipfile

    from grading import bundle

    labels = grader.cifar_labels(None) if grader.cifar_labels(None) is not None else None
    if labels is None:
        labels = __import__("numpy").zeros(
            10000, dtype="int64"
        )  # no data here: predictions score 0
    root = tmp_path / "autograder"
    bundle.write(tmp_path / "autograder.zip", labels)
    with zipfile.ZipFile(tmp_path / "autograder.zip") as z:
        z.extractall(root / "source")
    assert (root / "source" / "setup.sh").exists() and "numpy==" in (
        root / "source" / "requirements.txt"
    ).read_text()
    reference_package(root / "submission" / "hw3")
    (tmp_path / "bin").mkdir()
    code = _isolated_python(tmp_path / "bin")
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "AUTOGRADER": str(root),
        "PYCODE": code,
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "results" / "results.json").exists(), done.stdout + done.stderr
    results = yaml.safe_load((root / "results" / "results.json").read_text())
    tests = {t["name"]: t for t in results["tests"]}
    assert (
        tests["layers.FullyConnected"]["score"] == tests["layers.FullyConnected"]["max_score"] == 15
    )
    assert tests["iris"]["score"] == 10 and "isolation failed" not in done.stdout + done.stderr
    del os


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "it is empty"),
        ("id,label\n1,3\n", "the header must be Id,Category"),
        ("Id,Category\n1,3\n", "1 rows, expected 3"),
        ("Id,Category\n1,3\n3,1\n2,0\n", "row 2: expected Id 2"),
        ("Id,Category\n1,3\n2,12\n3,0\n", "row 2: label '12' is not an integer 0-9"),
        ("Id,Category\n1,3\n2,cat\n3,0\n", "row 2: label 'cat' is not an integer 0-9"),
    ],
)
def test_each_kind_of_mistake_in_predictions_csv_is_named(tmp_path, text, says):
    (tmp_path / "predictions.csv").write_text(text)
    r = grader.grade_predictions(tmp_path, __import__("numpy").array([3, 1, 0]), FAST, 20)
    assert r.points == 0 and says in r.output, r.output


def test_predictions_csv_is_scored_by_the_threshold_table(tmp_path):
    import numpy as np

    labels = np.arange(10000) % 10
    for right, points in ((8000, 20), (7999, 15), (4000, 0)):
        predicted = labels.copy()
        predicted[right:] = (predicted[right:] + 1) % 10
        rows = "".join(f"{i},{c}\n" for i, c in enumerate(predicted, start=1))
        (tmp_path / "predictions.csv").write_text("Id,Category\n" + rows)
        r = grader.grade_predictions(tmp_path, labels, FAST, 20)
        assert r.points == points, (right, r.output)

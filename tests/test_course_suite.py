"""The conformance suite itself (tests/course): its fixtures are PyTorch's, it runs against any
package named ``neural_networks``, and it fails on a broken one."""

import re
import subprocess
import sys

import numpy as np
import pytest

from plumbing.handout import handout_names
from tests.conftest import ROOT
from tests.course import generate_fixtures

SUITE = ROOT / "tests" / "course"
FIXTURES = ROOT / "grading" / "course" / "fixtures"


def test_fixtures_are_what_the_pytorch_generator_writes(tmp_path):
    generate_fixtures.main(["--out", str(tmp_path)])
    committed = sorted(p.name for p in FIXTURES.glob("*.npz"))
    assert committed == sorted(f"{c}.npz" for c in generate_fixtures.test_classes())
    for name in committed:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name
    assert sum((FIXTURES / n).stat().st_size for n in committed) < 6 * 2**20  # a few MB


def _handout_copy(root, edits=(), drop=()):
    """numpy_nn as a package named neural_networks under ``root``, with textual ``edits``
    ((file, old, new)) and the classes in ``drop`` removed from the layers module."""
    package = root / "neural_networks"
    package.mkdir()
    for source in (ROOT / "numpy_nn").iterdir():
        if source.suffix == ".py":
            (package / source.name).write_text(handout_names(source.read_text()))
    for file, old, new in edits:
        text = (package / file).read_text()
        assert old in text, (file, old)
        (package / file).write_text(text.replace(old, new))
    if drop:
        text = (package / "layers.py").read_text()
        (package / "layers.py").write_text(text + "".join(f"\ndel {n}\n" for n in drop))
    return root


def _run_suite(root) -> subprocess.CompletedProcess:
    """``python -m unittest`` on the suite with ``root`` first on the path (its neural_networks)."""
    return subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", str(SUITE), "-t", str(ROOT), "-v"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )


def _failed(out) -> set[str]:
    return set(re.findall(r"^(?:FAIL|ERROR): \w+ \(tests\.course\.\w+\.(\w+)", out.stderr, re.M))


def test_a_correct_copy_named_neural_networks_passes(tmp_path):
    out = _run_suite(_handout_copy(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.search(r"Ran 29 tests", out.stderr) and "skipped" not in out.stderr


@pytest.mark.parametrize(
    "edits, broken",
    [
        (  # L2 without the course's 1/2
            [
                ("losses.py", "np.sum(D * D) / (2 * Y.shape[0])", "np.sum(D * D) / Y.shape[0]"),
                (
                    "losses.py",
                    "return (Y_hat - Y) / Y.shape[0]",
                    "return 2 * (Y_hat - Y) / Y.shape[0]",
                ),
            ],
            {"TestL2"},
        ),
        (  # a transposed weight in FullyConnected's backward
            [
                (
                    "layers.py",
                    'self.gradients["W"] = threads.matmul(X.T, dZ)',
                    'self.gradients["W"] = (dZ.T @ X).reshape(X.shape[1], -1)',
                )
            ],
            {"TestFullyConnected"},
        ),
        (  # PyTorch's batch-norm momentum instead of the handout's
            [
                (
                    "normalization.py",
                    'cache["running_mu"] = m * cache["running_mu"] + (1 - m) * mu',
                    'cache["running_mu"] = (1 - m) * cache["running_mu"] + m * mu',
                )
            ],
            {"TestBatchNorm1D"},
        ),
        (  # the softmax Jacobian's diagonal term only
            [
                (
                    "activations.py",
                    "return S * (dY - (dY * S).sum(axis=1, keepdims=True))",
                    "return S * dY",
                )
            ],
            {"TestSoftMax"},
        ),
        (  # max pooling's gradient to every input of the window
            [("conv.py", "share = np.multiply(dY, hit,", "share = np.multiply(dY, True,")],
            {"TestPool2D"},
        ),
    ],
    ids=[
        "l2_without_half",
        "fc_backward_transposed",
        "batchnorm_torch_momentum",
        "softmax_diagonal_only",
        "maxpool_to_every_input",
    ],
)
def test_a_broken_copy_fails_exactly_where_it_is_broken(tmp_path, edits, broken):
    out = _run_suite(_handout_copy(tmp_path, edits))
    assert out.returncode != 0
    assert _failed(out) == broken, out.stderr[-3000:]


def test_layers_a_package_lacks_are_skipped_not_failed(tmp_path):
    """A fall semester's package has no image layers."""
    out = _run_suite(_handout_copy(tmp_path, drop=("Conv2D", "Pool2D", "BatchNorm1D")))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "skipped 'neural_networks has no Conv2D'" in out.stderr
    assert np.isin(
        ["TestPool2D", "TestBatchNorm1D"], re.findall(r"\.(Test\w+)\)", out.stderr)
    ).all()

"""The numerical gradient checker passes on our code and catches a wrong gradient."""

import subprocess
import sys

import numpy as np

from numpy_nn import gradcheck
from numpy_nn.activations import ReLU


def test_every_check_passes():
    rows = gradcheck.run_checks(seed=1)
    names = [n for n, _ in rows]
    assert "activation softmax" in names and "fully_connected[relu] dX" in names
    assert "loss cross_entropy" in names
    assert all(err < gradcheck.TOLERANCE for _, err in rows), rows


def test_catches_a_wrong_backward(monkeypatch, rng):
    monkeypatch.setattr(ReLU, "backward", lambda self, Z, dY: dY)  # forgets the mask
    assert gradcheck.check_activation("relu", rng) > 1e-3


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, 2.0]])
    g = gradcheck.numerical_gradient(lambda v: v**3, x, np.ones_like(x))
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-9)


def test_cli_prints_a_table_and_exits_zero():
    out = subprocess.run(
        [sys.executable, "-m", "numpy_nn.gradcheck"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "fully_connected[softmax] dW" in out.stdout and "0 failed" in out.stdout

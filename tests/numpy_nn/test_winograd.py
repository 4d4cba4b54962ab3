"""Winograd's F(2x2, 3x3) convolution (numpy_nn/winograd.py, ``Conv2D(algorithm="winograd")``)
computes the im2col convolution's output and gradients: float64 to 1e-9, against torch too, on
even and odd sizes and every padding; its stages are the matrices of the derivation."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from numpy_nn import winograd
from numpy_nn.conv import Conv2D

CASES = [  # (batch, height, width, c_in, c_out, pad): odd and even outputs, 1x1 to 9x6
    (2, 8, 8, 3, 4, "same"),
    (3, 7, 6, 2, 5, "same"),
    (1, 9, 6, 4, 3, "valid"),
    (2, 5, 4, 3, 2, 2),
    (2, 3, 3, 2, 3, "valid"),
    (1, 1, 1, 5, 2, 1),
]


def _run(algorithm, X, dY, activation="tanh", **options):
    layer = Conv2D(dY.shape[3], 3, activation, seed=4, algorithm=algorithm, **options)
    layer.forward(X)  # the weights, then a bias that is not zero
    layer.parameters["b"] = np.linspace(-1, 1, dY.shape[3])[None]
    Y = layer.forward(X)
    return Y, layer.backward(dY), layer.gradients["W"], layer.gradients["b"]


@pytest.mark.parametrize("n, h, w, c, f, pad", CASES)
def test_winograd_equals_im2col_in_float64(n, h, w, c, f, pad):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, h, w, c))
    ho = Conv2D(f, 3, "linear", pad=pad, seed=0).forward(X).shape[1:3]
    dY = rng.normal(size=(n, *ho, f))
    for ours, theirs in zip(_run("winograd", X, dY, pad=pad), _run("im2col", X, dY, pad=pad)):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float64
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * np.abs(theirs).max())


def test_winograd_matches_torch_conv2d():
    rng = np.random.default_rng(1)
    X, dY = rng.normal(size=(2, 7, 5, 3)), rng.normal(size=(2, 7, 5, 4))
    Y, dX, dW, db = _run("winograd", X, dY, activation="linear")
    layer = Conv2D(4, 3, "linear", seed=4)
    layer.forward(X)
    x = torch.tensor(X.transpose(0, 3, 1, 2), requires_grad=True)
    weight = torch.tensor(layer.parameters["W"].transpose(3, 2, 0, 1), requires_grad=True)
    bias = torch.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    y = F.conv2d(x, weight, bias, padding=1)
    (y * torch.tensor(dY.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(Y, y.detach().numpy().transpose(0, 2, 3, 1), atol=1e-12)
    np.testing.assert_allclose(dX, x.grad.numpy().transpose(0, 2, 3, 1), atol=1e-12)
    np.testing.assert_allclose(dW, weight.grad.numpy().transpose(2, 3, 1, 0), atol=1e-12)
    np.testing.assert_allclose(db[0], bias.grad.numpy(), atol=1e-12)


def test_winograd_in_float32_stays_float32_and_close():
    rng = np.random.default_rng(2)
    X, dY = rng.normal(size=(4, 16, 16, 8)), rng.normal(size=(4, 16, 16, 6))
    ours = _run("winograd", X.astype(np.float32), dY.astype(np.float32))
    for a, b in zip(ours, _run("im2col", X, dY)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-5 * np.abs(b).max())


def test_the_stages_are_the_derivations_matrices():
    """B^T, G, A^T of docs/derivations.md; one tile, one channel: A^T[(G g G^T) ⊙ (B^T d B)]A
    is the 2x2 correlation of d with g."""
    BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float)
    AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)
    rng = np.random.default_rng(3)
    d, g = rng.normal(size=(1, 4, 4, 1)), rng.normal(size=(3, 3, 1, 1))
    V = winograd.input_transform(d, (1, 1)).reshape(4, 4)
    np.testing.assert_allclose(V, BT @ d[0, :, :, 0] @ BT.T, atol=1e-14)
    U = winograd.kernel_transform(g).reshape(4, 4)
    np.testing.assert_allclose(U, winograd.G @ g[:, :, 0, 0] @ winograd.G.T, atol=1e-14)
    Y = AT @ (U * V) @ AT.T
    direct = [
        [np.sum(d[0, r : r + 3, q : q + 3, 0] * g[:, :, 0, 0]) for q in (0, 1)] for r in (0, 1)
    ]
    np.testing.assert_allclose(Y, direct, atol=1e-13)


def test_a_winograd_layer_without_input_gradient_keeps_the_same_weight_gradients():
    rng = np.random.default_rng(4)
    X, dY = rng.normal(size=(2, 6, 6, 2)), rng.normal(size=(2, 6, 6, 3))
    full, first = (
        Conv2D(3, 3, "relu", seed=0, algorithm="winograd"),
        Conv2D(3, 3, "relu", seed=0, algorithm="winograd"),
    )
    full.forward(X), first.forward(X)
    full.backward(dY)
    assert first.backward(dY, input_gradient=False) is None
    np.testing.assert_array_equal(full.gradients["W"], first.gradients["W"])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"kernel_shape": 5}, "winograd computes 3x3 kernels at stride 1"),
        ({"kernel_shape": 3, "stride": 2}, "use algorithm im2col for this layer"),
        ({"kernel_shape": 3, "algorithm": "fft"}, "algorithm must be one of im2col, winograd"),
    ],
)
def test_winograd_refuses_what_it_does_not_compute(options, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(2, activation="relu", **{"algorithm": "winograd", **options})


def test_the_layer_runs_winograds_stages_not_im2col(monkeypatch):
    calls = []
    for name in ("forward", "backward"):
        real = getattr(winograd, name)
        monkeypatch.setattr(
            winograd,
            name,
            lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k),
        )
    monkeypatch.setattr("numpy_nn.conv._windows", lambda *a: pytest.fail("im2col ran"))
    X = np.random.default_rng(5).normal(size=(2, 4, 4, 2))
    layer = Conv2D(3, 3, "relu", seed=0, algorithm="winograd")
    layer.backward(np.ones_like(layer.forward(X)))
    assert calls == ["forward", "backward"]

"""numpy-backed, torch-native and numpy_nn's own trainer agree step for step from the same seed."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lightning_hw.networks import IrisFFNN
from numpy_nn.experiment import Options
from train_ffnn import setup

STEPS = 50
OPTIONS = Options(lr=0.05, momentum=0.9, hidden=25, activation="tanh", batch_size=16, seed=3)


def _batches(dtype):
    _, data, _ = setup(OPTIONS)
    out = []
    while len(out) < STEPS:
        out += [(X.astype(dtype), Y.astype(dtype)) for X, Y in data.train.batches()]
    return out[:STEPS]


def _torch_losses(backend, dtype):
    net = IrisFFNN(
        backend=backend,
        hidden=OPTIONS.hidden,
        activation=OPTIONS.activation,
        seed=OPTIONS.seed,
        dtype=dtype,
    )
    opt = torch.optim.SGD(net.parameters(), lr=OPTIONS.lr, momentum=OPTIONS.momentum)
    losses = []
    for X, Y in _batches(dtype):
        loss = F.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(Y.argmax(1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def _numpy_nn_losses(dtype):
    model, _, _ = setup(OPTIONS)
    model._initialize_layers(out_dim=3)
    losses = []
    for X, Y in _batches(dtype):
        losses.append(model.backward(Y, model.forward(X)))
        model.update()
    return np.array(losses)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-5)])
def test_same_loss_at_every_step(dtype, tol):
    numpy_backed = _torch_losses("numpy", dtype)
    torch_native = _torch_losses("torch", dtype)
    numpy_nn = _numpy_nn_losses(dtype)
    assert numpy_backed[-1] < 0.5 * numpy_backed[0]  # it actually trains
    np.testing.assert_allclose(numpy_backed, torch_native, rtol=tol, atol=tol)
    np.testing.assert_allclose(numpy_backed, numpy_nn, rtol=tol, atol=tol)


def test_backends_start_from_numpy_nn_weights():
    model, _, _ = setup(OPTIONS)
    model._initialize_layers(out_dim=3)
    model.forward(np.zeros((1, 4)))
    ours = IrisFFNN(
        "numpy",
        hidden=OPTIONS.hidden,
        activation=OPTIONS.activation,
        seed=OPTIONS.seed,
        dtype="float64",
    )
    twin = IrisFFNN(
        "torch",
        hidden=OPTIONS.hidden,
        activation=OPTIONS.activation,
        seed=OPTIONS.seed,
        dtype="float64",
    )
    np.testing.assert_array_equal(
        ours.layers[0].W.detach().numpy(), model.layers[0].parameters["W"]
    )
    np.testing.assert_array_equal(
        twin.layers[0].weight.detach().numpy().T, model.layers[0].parameters["W"]
    )
    np.testing.assert_array_equal(
        ours.layers[1].W.detach().numpy(), model.layers[1].parameters["W"]
    )

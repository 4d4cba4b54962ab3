"""Elman against PyTorch in float64: nn.RNN (tanh and relu) and autograd through the same loop
for every activation; the handout's names (cache "s", forward_step, a list of dL/dX_t)."""

import numpy as np
import pytest
import torch

from numpy_nn.layers import Elman, initialize_layer
from tests.numpy_nn.torch_reference import TORCH_ACTIVATIONS


def _layer(activation, n_in=4, n_out=5, T=6, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    layer = initialize_layer("elman", n_out=n_out, activation=activation, seed=seed)
    X = rng.normal(size=(batch, n_in, T))
    layer.forward(X)
    layer.parameters["b"] = rng.normal(size=(1, n_out)) * 0.3
    return layer, X, rng


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_forward_and_backward_match_torch_rnn(nonlinearity):
    layer, X, rng = _layer(nonlinearity)
    p = {k: torch.tensor(v) for k, v in layer.parameters.items()}
    rnn = torch.nn.RNN(4, 5, nonlinearity=nonlinearity, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(p["W"].T)
        rnn.weight_hh_l0.copy_(p["U"].T)
        rnn.bias_ih_l0.copy_(p["b"][0])
        rnn.bias_hh_l0.zero_()
    x = torch.tensor(X, requires_grad=True)
    _, h = rnn(x.permute(0, 2, 1))
    dY = rng.normal(size=(3, 5))
    (h[0] * torch.tensor(dY)).sum().backward()
    Y = layer.forward(X)
    dX = layer.backward(dY)
    np.testing.assert_allclose(Y, h[0].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(np.stack(dX, axis=-1), x.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.gradients["W"], rnn.weight_ih_l0.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(layer.gradients["U"], rnn.weight_hh_l0.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(layer.gradients["b"][0], rnn.bias_ih_l0.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "sigmoid", "arctan", "softmax"])
def test_every_activation_matches_autograd_through_the_same_loop(activation):
    layer, X, rng = _layer(activation, T=4)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in layer.parameters.items()}
    x = torch.tensor(X, requires_grad=True)
    s = torch.zeros(3, 5, dtype=torch.float64)
    for t in range(4):
        s = TORCH_ACTIVATIONS[activation](x[:, :, t] @ p["W"] + s @ p["U"] + p["b"])
    dY = rng.normal(size=(3, 5))
    (s * torch.tensor(dY)).sum().backward()
    np.testing.assert_allclose(layer.forward(X), s.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(np.stack(layer.backward(dY), -1), x.grad.numpy(), atol=1e-12)
    for name in ("W", "U", "b"):
        np.testing.assert_allclose(layer.gradients[name], p[name].grad.numpy(), atol=1e-12)


def test_the_handouts_names_and_shapes():
    layer, X, _ = _layer("tanh", n_in=2, n_out=3, T=5, batch=4)
    assert isinstance(layer, Elman) and list(layer.parameters) == ["W", "U", "b"]
    assert [v.shape for v in layer.parameters.values()] == [(2, 3), (3, 3), (1, 3)]
    layer.forward(X)
    assert len(layer.cache["s"]) == 6 and not layer.cache["s"][0].any()  # s_0 = 0, then s_1..s_5
    dX = layer.backward(np.ones((4, 3)))
    assert isinstance(dX, list) and [d.shape for d in dX] == [(4, 2)] * 5
    with pytest.raises(ValueError, match=r"\(batch, n_in, T\)"):
        layer.forward(np.ones((4, 2)))

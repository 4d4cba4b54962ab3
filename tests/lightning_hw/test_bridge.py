"""The autograd bridge: gradcheck, shared memory, reuse in one graph, clear device errors."""

import numpy as np
import pytest
import torch

from lightning_hw.bridge import NumpyModule
from numpy_nn.activations import ACTIVATION_NAMES
from numpy_nn.layers import FullyConnected


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_torch_gradcheck_float64(activation):
    module = NumpyModule(FullyConnected(3, activation, seed=0), (1, 5), dtype=torch.float64)
    with torch.no_grad():
        module.b.normal_()
    x = torch.randn(
        6, 5, dtype=torch.float64, requires_grad=True, generator=torch.Generator().manual_seed(0)
    )
    if activation == "relu":  # keep pre-activations away from the kink
        with torch.no_grad():
            z = x @ module.W + module.b
            module.b += torch.where(z.abs() < 0.05, 0.2, 0.0).amax(0)
    fn = lambda x, W, b: module(x)  # noqa: E731  (W and b are read from the module)
    assert torch.autograd.gradcheck(fn, (x, module.W, module.b), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_parameters_share_memory_with_the_numpy_layer():
    layer = FullyConnected(2, "tanh", seed=0)
    module = NumpyModule(layer, (1, 3))
    assert np.shares_memory(module.W.detach().numpy(), layer.parameters["W"])
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    module(torch.ones(4, 3)).sum().backward()
    before = layer.parameters["W"].copy()
    opt.step()
    assert not np.allclose(before, layer.parameters["W"])  # the numpy array moved with the step
    np.testing.assert_array_equal(layer.parameters["W"], module.W.detach().numpy())


def test_state_dict_round_trip_and_dtype_change():
    a = NumpyModule(FullyConnected(2, "relu", seed=0), (1, 3))
    b = NumpyModule(FullyConnected(2, "relu", seed=1), (1, 3))
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 3)
    torch.testing.assert_close(a(x), b(x))
    assert np.shares_memory(b.W.detach().numpy(), b.layer.parameters["W"])
    b.double()
    assert b(x.double()).dtype == torch.float64
    torch.testing.assert_close(b(x.double()).float(), a(x))


def test_module_used_twice_in_one_graph_gets_both_gradients():
    layer = FullyConnected(3, "tanh", seed=0)
    ours = NumpyModule(layer, (1, 3), dtype=torch.float64)
    ref = torch.nn.Linear(3, 3, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(ours.W.T)
        ref.bias.copy_(ours.b[0])
    x = torch.randn(4, 3, dtype=torch.float64)
    ours(ours(x)).pow(2).sum().backward()
    torch.tanh(ref(torch.tanh(ref(x)))).pow(2).sum().backward()
    torch.testing.assert_close(ours.W.grad, ref.weight.grad.T, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours.b.grad, ref.bias.grad[None], rtol=1e-10, atol=1e-12)


def test_non_cpu_input_is_a_clear_error():
    module = NumpyModule(FullyConnected(2, "relu", seed=0), (1, 3))
    with pytest.raises(RuntimeError, match="numpy layers run on the CPU only"):
        module(torch.empty(2, 3, device="meta"))

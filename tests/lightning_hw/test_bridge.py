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


@pytest.mark.parametrize("input_requires_grad", [False, True])
def test_the_datas_gradient_is_skipped_when_torch_needs_none(input_requires_grad):
    layer = FullyConnected(3, "relu", seed=0)
    module = NumpyModule(layer, (1, 4), torch.float64)
    asked = []
    real = layer.backward
    layer.backward = lambda g, **kw: asked.append(kw.get("input_gradient", True)) or real(g, **kw)
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=input_requires_grad)
    module(x).sum().backward()
    assert asked == [input_requires_grad]
    assert (x.grad is not None) == input_requires_grad
    assert all(p.grad is not None for p in module.parameters())


def test_non_cpu_input_is_a_clear_error():
    module = NumpyModule(FullyConnected(2, "relu", seed=0), (1, 3))
    with pytest.raises(RuntimeError, match="numpy layers run on the CPU only"):
        module(torch.empty(2, 3, device="meta"))


# --- every numpy_nn layer kind through the bridge ---------------------------------------------

from numpy_nn.conv import Conv2D, Pool2D  # noqa: E402
from numpy_nn.layers import Flatten  # noqa: E402
from numpy_nn.normalization import BatchNorm1D, BatchNorm2D  # noqa: E402
from numpy_nn.regularization import Dropout  # noqa: E402

IMAGES = (4, 6, 5, 3)  # NHWC
LAYERS = {
    "fully_connected": (lambda: FullyConnected(4, "tanh", seed=0), (5, 7)),
    "conv2d_same": (lambda: Conv2D(4, 3, "tanh", seed=0), IMAGES),
    "conv2d_strided_valid": (lambda: Conv2D(2, (3, 2), "sigmoid", 2, "valid", seed=1), IMAGES),
    "pool2d_max": (lambda: Pool2D(2, "max", 2), IMAGES),
    "pool2d_average_padded": (lambda: Pool2D(3, "average", 1, 1), IMAGES),
    "flatten": (lambda: Flatten(), IMAGES),
    "batchnorm1d": (lambda: BatchNorm1D(), (6, 4)),
    "batchnorm2d": (lambda: BatchNorm2D(), IMAGES),
    "dropout": (lambda: Dropout(0.3), IMAGES),
}


def _randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("kind", LAYERS)
def test_gradcheck_every_layer_kind_float64(kind, mode):
    """torch.autograd.gradcheck through NumpyModule: dL/dX and every parameter's gradient."""
    make, shape = LAYERS[kind]
    module = NumpyModule(make(), shape, dtype=torch.float64)
    _randomize(module)
    getattr(module, mode)()
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    if kind == "pool2d_max":  # distinct values, so that every window has one clear maximum
        with torch.no_grad():
            x.copy_(
                torch.randperm(x.numel(), generator=torch.Generator().manual_seed(0))
                .view(shape)
                .double()
                / 10
            )
    params = list(module.parameters())

    def fn(x, *_):
        torch.manual_seed(0)  # Dropout: the same mask on every call
        return module(x)

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("kind", ["pool2d_max", "flatten", "dropout"])
def test_layers_without_parameters_expose_none(kind):
    make, shape = LAYERS[kind]
    module = NumpyModule(make(), shape)
    assert list(module.parameters()) == [] and list(module.buffers()) == []


def test_batchnorm_running_statistics_are_buffers_that_follow_training():
    module = NumpyModule(BatchNorm2D(momentum=0.5), IMAGES, dtype=torch.float64)
    assert set(module.state_dict()) == {"gamma", "beta", "running_mean", "running_var"}
    x = 3 + 2 * torch.randn(IMAGES, dtype=torch.float64)
    module(x)  # training: the buffers move halfway to the batch statistics
    mean = x.mean(dim=(0, 1, 2))
    var = x.var(dim=(0, 1, 2), unbiased=False)  # the handout's: the biased batch variance
    torch.testing.assert_close(module.running_mean[0], 0.5 * mean)
    torch.testing.assert_close(module.running_var[0], 0.5 + 0.5 * var)
    ref = torch.nn.BatchNorm2d(3, eps=module.layer.eps, dtype=torch.float64)
    ref.load_state_dict(
        {
            "weight": module.gamma[0],
            "bias": module.beta[0],
            "running_mean": module.running_mean[0],
            "running_var": module.running_var[0],
            "num_batches_tracked": torch.tensor(1),
        }
    )
    module.training = False  # as Lightning restores modes: the flag alone must switch the layer
    ref.eval()
    torch.testing.assert_close(module(x), ref(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))
    frozen = module.running_mean.clone()
    module(x + 5)
    torch.testing.assert_close(module.running_mean, frozen)  # evaluation leaves them alone


def test_batchnorm_buffers_reload_into_another_module():
    a = NumpyModule(BatchNorm1D(), (6, 4))
    a(torch.randn(6, 4) * 4 + 1)
    b = NumpyModule(BatchNorm1D(), (6, 4))
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(3, 4)
    torch.testing.assert_close(b(x), a(x))
    assert not torch.equal(b.running_var, torch.ones(1, 4))


def test_dropout_masks_follow_torchs_seed():
    module = NumpyModule(Dropout(0.5), IMAGES)
    x = torch.ones(IMAGES)
    torch.manual_seed(7)
    first = module(x)
    torch.manual_seed(7)
    again = module(x)
    other = module(x)  # the RNG moved on: a new mask
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)
    assert set(first.unique().tolist()) == {0.0, 2.0}
    module.eval()
    torch.testing.assert_close(module(x), x)


def test_non_cpu_module_is_a_clear_error_for_any_layer():
    module = NumpyModule(Conv2D(2, 3, "relu", seed=0), IMAGES)
    with pytest.raises(RuntimeError, match="numpy layers run on the CPU only"):
        module(torch.empty(IMAGES, device="meta"))


def test_an_output_the_backward_reads_is_not_copied_and_guarded_against_in_place_changes():
    """Pool2D keeps its output Y for its backward: torch gets Y itself (no copy per step), saved,
    so changing it in place before the backward is torch's error, not a wrong gradient."""
    module = NumpyModule(Pool2D(2, stride=2), (1, 4, 4, 3), torch.float64)
    x = torch.randn(2, 4, 4, 3, dtype=torch.float64, requires_grad=True)
    y = module(x)
    assert np.shares_memory(y.detach().numpy(), module.layer.cache["Y"])
    y.sum().backward()  # untouched: fine
    y = module(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    flat = NumpyModule(Flatten(), (1, 4, 4, 3), torch.float64)  # a view of its input: copied
    assert not np.shares_memory(flat(x).detach().numpy(), x.detach().numpy())

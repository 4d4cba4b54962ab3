"""FullyConnected against torch autograd (float64, every activation, batch 1/7/1000), API and errors."""

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from numpy_nn.activations import ACTIVATION_NAMES
from numpy_nn.base import UNTOUCHED_ZEROS_MIN_BYTES, untouched_zeros_like
from numpy_nn.layers import Flatten, FullyConnected, initialize_layer
from tests.numpy_nn.torch_reference import TORCH_ACTIVATIONS


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_matches_torch(activation, n, rng):
    n_in, n_out = 5, 4
    layer = FullyConnected(n_out, activation, seed=1)
    X = rng.normal(size=(n, n_in))
    Y = layer.forward(X)
    layer.parameters["b"] = rng.normal(size=(1, n_out))  # a nonzero bias exercises db fully
    Y = layer.forward(X)
    dY = rng.normal(size=Y.shape)
    dX = layer.backward(dY)

    x = torch.tensor(X, requires_grad=True)
    W = torch.tensor(layer.parameters["W"], requires_grad=True)
    b = torch.tensor(layer.parameters["b"], requires_grad=True)
    y = TORCH_ACTIVATIONS[activation](x @ W + b)
    y.backward(torch.tensor(dY))
    for ours, theirs in [
        (Y, y.detach()),
        (dX, x.grad),
        (layer.gradients["W"], W.grad),
        (layer.gradients["b"], b.grad),
    ]:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-13)


def test_lazy_init_shapes_and_ordered_dicts():
    layer = FullyConnected(3, "relu")
    assert layer.n_in is None and len(layer.parameters) == 0
    layer.forward(np.zeros((2, 7)))
    assert layer.n_in == 7
    assert isinstance(layer.parameters, OrderedDict) and list(layer.parameters) == ["W", "b"]
    assert isinstance(layer.gradients, OrderedDict) and list(layer.gradients) == ["W", "b"]
    assert isinstance(layer.cache, OrderedDict)
    assert layer.parameters["W"].shape == (7, 3) and layer.parameters["b"].shape == (1, 3)
    assert not np.any(layer.parameters["b"]) and not np.any(layer.gradients["W"])


def test_init_parameters_can_be_called_directly():
    layer = FullyConnected(4, "tanh")
    layer._init_parameters((10, 6))
    assert layer.parameters["W"].shape == (6, 4)
    assert layer.gradients["W"].shape == (6, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_data(dtype):
    layer = FullyConnected(3, "sigmoid", seed=0)
    X = np.ones((4, 5), dtype=dtype)
    Y = layer.forward(X)
    dX = layer.backward(np.ones_like(Y))
    for a in (
        Y,
        dX,
        layer.parameters["W"],
        layer.parameters["b"],
        layer.gradients["W"],
        layer.gradients["b"],
    ):
        assert a.dtype == dtype


def test_same_seed_same_weights_and_float32_matches_float64():
    a, b = FullyConnected(3, "relu", seed=5), FullyConnected(3, "relu", seed=5)
    a.forward(np.zeros((1, 4)))
    b.forward(np.zeros((1, 4), dtype=np.float32))
    np.testing.assert_array_equal(a.parameters["W"].astype(np.float32), b.parameters["W"])


def test_clear_gradients_keeps_keys_and_zeroes():
    layer = FullyConnected(2, "linear", seed=0)
    layer.forward(np.ones((3, 2)))
    layer.backward(np.ones((3, 2)))
    assert np.any(layer.gradients["W"])
    layer.clear_gradients()
    assert list(layer.gradients) == ["W", "b"] and not np.any(layer.gradients["W"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clear_gradients_of_a_large_layer_gives_writable_zeros(dtype):
    layer = FullyConnected(512, "relu", seed=0)  # W: 600 x 512, over UNTOUCHED_ZEROS_MIN_BYTES
    X = np.random.default_rng(0).normal(size=(4, 600)).astype(dtype)
    layer.backward(np.ones_like(layer.forward(X)))
    layer.clear_gradients()
    W, b = layer.parameters["W"], layer.parameters["b"]
    for name, g in layer.gradients.items():
        p = layer.parameters[name]
        assert g.shape == p.shape and g.dtype == p.dtype and g.flags.writeable
        assert not np.any(g)
    assert W.nbytes >= UNTOUCHED_ZEROS_MIN_BYTES > b.nbytes
    layer.gradients["W"] += 1.0  # code that accumulates into a cleared gradient still works
    assert np.all(layer.gradients["W"] == 1.0)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc/self/statm")
def test_untouched_zeros_cost_no_memory_until_written():
    def resident_bytes():
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    a = np.empty((4096, 4096), dtype=np.float32)  # 64 MiB
    before = resident_bytes()
    z = untouched_zeros_like(a)
    assert resident_bytes() - before < 4 << 20  # np.zeros_like would make all 64 MiB resident
    assert z.shape == a.shape and z.dtype == a.dtype and not np.any(z[::512, ::512])
    z[0] = 1.0
    assert z[0].sum() == 4096 and not np.any(z[1:2])


def test_forward_with_param_sets_the_parameter():
    layer = FullyConnected(2, "linear", seed=0)
    X = np.ones((1, 3))
    layer.forward(X)
    f = layer.forward_with_param("b", X)
    out = f(np.array([[10.0, 20.0]]))
    np.testing.assert_allclose(out, X @ layer.parameters["W"] + [[10.0, 20.0]])


def test_shape_mismatch_is_a_clear_value_error():
    layer = FullyConnected(2, "relu")
    layer.forward(np.ones((3, 4)))
    with pytest.raises(
        ValueError, match="shape mismatch: input has 5 features but the layer expects 4"
    ):
        layer.forward(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"batch of shape \(n, n_in\), got shape \(4,\)"):
        layer.forward(np.ones(4))


def test_initialize_layer_honours_name_and_errors():
    layer = initialize_layer("fully_connected", activation="tanh", weight_init="he_normal", n_out=3)
    assert isinstance(layer, FullyConnected) and layer.n_out == 3
    with pytest.raises(ValueError, match="unknown layer 'conv3d'"):
        initialize_layer("conv3d", n_out=3)
    with pytest.raises(ValueError, match="layer 'conv2d' needs kernel_shape, activation"):
        initialize_layer("conv2d", n_out=3)
    with pytest.raises(ValueError, match="unexpected options for layer 'flatten': n_out"):
        initialize_layer("flatten", n_out=3)
    with pytest.raises(ValueError, match="unknown activation"):
        initialize_layer("fully_connected", activation="bogus", n_out=3)
    with pytest.raises(ValueError, match="unknown weight initializer"):
        initialize_layer("fully_connected", activation="relu", weight_init="bogus", n_out=3)
    with pytest.raises(ValueError, match="n_out must be a positive integer"):
        FullyConnected(0, "relu")


# The handout's NeuralNetwork passes each layer's whole AttrDict through initialize_layer.
HANDOUT_KEYS = dict(
    activation=None,
    weight_init=None,
    n_out=None,
    kernel_shape=None,
    stride=None,
    pad=None,
    mode=None,
    keep_dim="first",
    eps=1e-8,
    momentum=0.95,
)


@pytest.mark.parametrize(
    "name, given, check",
    [
        ("fully_connected", {"n_out": 4, "activation": "relu"}, lambda l: l.n_out == 4),
        (
            "conv2d",
            {"n_out": 2, "kernel_shape": (3, 3), "activation": "relu", "stride": 2},
            lambda l: l.stride == 2 and l.pad == (1, 1),
        ),
        (
            "pool2d",
            {"kernel_shape": (2, 2), "mode": "average", "stride": 2, "pad": 0},
            lambda l: l.mode == "average",
        ),
        ("flatten", {"keep_dim": "first"}, lambda l: l.keep_dim == "first"),
        ("batchnorm1d", {}, lambda l: (l.eps, l.momentum) == (1e-8, 0.95)),
        (
            "batchnorm1d",
            {"momentum": 0.9, "eps": 1e-5},
            lambda l: (l.eps, l.momentum) == (1e-5, 0.9),
        ),
    ],
)
def test_initialize_layer_takes_the_handouts_whole_keyword_set(name, given, check):
    layer = initialize_layer(name=name, **{**HANDOUT_KEYS, **given})
    assert type(layer).__name__.lower().replace("fullyconnected", "fully_connected") == name
    assert check(layer)


@pytest.mark.parametrize(
    "name, given, message",
    [
        (
            "fully_connected",
            {"n_out": 4, "kernel_shape": 3},
            "unexpected options for layer 'fully_connected': kernel_shape",
        ),
        ("flatten", {"keep_dim": "middle"}, "keep_dim must be 'first', 'last' or -1"),
        ("pool2d", {"kernel_shape": 2, "mode": "median"}, "choose 'max' or 'average'"),
        (
            "conv2d",
            {"n_out": 2, "kernel_shape": 3, "activation": "relu", "momentum": 0.5},
            "unexpected options for layer 'conv2d': momentum",
        ),
        ("batchnorm1d", {"eps": -1.0}, "eps must be positive"),
    ],
)
def test_a_wrong_value_is_still_one_clear_error(name, given, message):
    with pytest.raises(ValueError, match=message):
        initialize_layer(name, **{**HANDOUT_KEYS, **given})


def test_every_layer_is_importable_from_layers():
    from numpy_nn import layers

    for name in ("Layer", "FullyConnected", "Conv2D", "Pool2D", "Flatten", "BatchNorm1D"):
        assert isinstance(getattr(layers, name), type)


@pytest.mark.parametrize("keep_dim, shape", [("first", (2, 60)), ("last", (24, 5)), (-1, (1, 120))])
def test_flatten_keep_dim_and_retain_derived(keep_dim, shape):
    X = np.arange(120.0).reshape(2, 3, 4, 5)
    layer = Flatten(keep_dim=keep_dim)
    Y = layer.forward(X, retain_derived=True)
    assert Y.shape == shape and np.array_equal(Y.ravel(), X.ravel())
    assert layer.backward(Y).shape == X.shape and layer.cache["in_dims"] == X.shape

"""LayerStack: numpy_nn layer specs built in two backends from identical weights."""

import numpy as np
import pytest
import torch
import yaml

from lightning_hw.bridge import NumpyModule
from lightning_hw.classifier import Classifier
from lightning_hw.networks import IrisFFNN, LayerStack
from numpy_nn.models import NeuralNetwork
from tests.conftest import ROOT

FASHION = yaml.safe_load((ROOT / "configs/model/fashion_cnn.yaml").read_text())
FASHION_LAYERS = FASHION["model"]["network"]["init_args"]["layers"]
CIFAR = yaml.safe_load((ROOT / "configs/cifar_cnn_numpy.yaml").read_text())
CIFAR_NET = CIFAR["model"]["network"]["init_args"]


def _twins(layers, input_shape, dtype="float64", seed=0):
    return [LayerStack(layers, input_shape, b, seed, dtype) for b in ("numpy", "torch")]


@pytest.mark.parametrize(
    "layers, input_shape",
    [(FASHION_LAYERS, [1, 28, 28]), (CIFAR_NET["layers"], CIFAR_NET["input_shape"])],
    ids=["fashion_cnn", "cifar_cnn_numpy"],
)
def test_backends_compute_the_same_function_from_the_same_weights(layers, input_shape):
    numpy_net, torch_net = _twins(layers, input_shape)
    x = torch.randn(
        6, *input_shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    for mode in ("train", "eval"):  # batch statistics, then the running ones just updated
        getattr(numpy_net, mode)(), getattr(torch_net, mode)()
        torch.manual_seed(0)
        a = numpy_net(x)
        torch.manual_seed(0)
        b = torch_net(x)
        if mode == "train":  # the handout's running statistics, in both backends
            for name in ("running_mean", "running_var"):
                ours = [b[0] for n, b in numpy_net.named_buffers() if n.endswith(name)]
                twins = [b for n, b in torch_net.named_buffers() if n.endswith(name)]
                assert len(ours) == len(twins) > 0
                for o, t in zip(ours, twins):
                    torch.testing.assert_close(o, t, rtol=1e-12, atol=1e-12)
            if any(s["name"] == "dropout" for s in layers):
                continue  # different mask generators; the masks' seeding is tested in test_bridge
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert sum(p.numel() for p in numpy_net.parameters()) == sum(
        p.numel() for p in torch_net.parameters()
    )


def test_a_frozen_layer_is_frozen_in_both_backends_and_they_learn_alike():
    """``trainable: false`` in a spec: the parameters of that layer need no gradient in either
    backend and stay as they were; five SGD steps give both backends the same loss (float64)."""
    layers = [
        {
            "name": "conv2d",
            "n_out": 4,
            "kernel_shape": 2,
            "activation": "linear",
            "trainable": False,
        },
        {"name": "conv2d", "n_out": 6, "kernel_shape": 3, "activation": "relu"},
        {"name": "batchnorm2d", "trainable": False},
        {"name": "flatten"},
        {"name": "fully_connected", "n_out": 3, "activation": "linear"},
    ]
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 2, 6, 6, dtype=torch.float64, generator=g), torch.arange(8) % 3
    losses = {}
    for net in _twins(layers, [2, 6, 6]):
        frozen = [p for p in net.parameters() if not p.requires_grad]
        assert len(frozen) == 4  # the first convolution's W, b and the batch norm's gamma, beta
        before = [p.detach().clone() for p in frozen]
        sgd = torch.optim.SGD(
            [p for p in net.parameters() if p.requires_grad], lr=0.1, momentum=0.9
        )
        losses[net.backend] = []
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(net(x), y)
            sgd.zero_grad()
            loss.backward()
            sgd.step()
            losses[net.backend].append(loss.item())
        for p, b in zip(frozen, before):
            assert torch.equal(p, b)
    np.testing.assert_allclose(losses["numpy"], losses["torch"], rtol=1e-10, atol=1e-12)
    assert losses["numpy"][-1] < losses["numpy"][0]


def test_fit_whitening_fits_both_backends_as_the_torch_cnn_fits_its_own():
    """The same whitening first layer in both backends (float64, the same function after it),
    and the same filters' Gram matrix as CifarCNN.fit_whitening on the same images."""
    from lightning_hw.networks import CifarCNN

    whiten = {"name": "conv2d", "n_out": 24, "kernel_shape": 2, "activation": "linear"}
    layers = [
        {**whiten, "pad": "valid", "trainable": False},
        {"name": "flatten"},
        {"name": "fully_connected", "n_out": 3, "activation": "linear"},
    ]
    images = torch.randn(
        10, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    images[:, 1] += 0.8 * images[:, 0]
    numpy_net, torch_net = _twins(layers, [3, 8, 8])
    for net in (numpy_net, torch_net):
        net.fit_whitening(images)
    torch.testing.assert_close(numpy_net(images), torch_net(images), rtol=1e-10, atol=1e-10)
    ours = torch.from_numpy(numpy_net.first.parameters["W"].reshape(12, 24))
    cnn = CifarCNN(widths=[8, 8, 8])
    cnn.fit_whitening(images.float())
    theirs = cnn.whiten.weight.detach().double().permute(2, 3, 1, 0).reshape(12, 24)
    torch.testing.assert_close(ours @ ours.T, theirs @ theirs.T, rtol=2e-3, atol=1e-3)
    with pytest.raises(ValueError, match="frozen conv2d"):
        _twins([{**whiten, "pad": "valid"}, *layers[1:]], [3, 8, 8])[0].fit_whitening(images)
    strided = [{**layers[0], "stride": 2}, *layers[1:]]  # non-overlapping patches, 8x8 -> 4x4
    numpy_net, torch_net = _twins(strided, [3, 8, 8])
    for net in (numpy_net, torch_net):
        net.fit_whitening(images)
    torch.testing.assert_close(numpy_net(images), torch_net(images), rtol=1e-10, atol=1e-10)
    W = torch.from_numpy(numpy_net.first.parameters["W"].reshape(12, 24))
    torch.testing.assert_close(W @ W.T, ours @ ours.T)  # the same filters as at stride 1


def test_initial_weights_equal_numpy_nns_own_model():
    """Layer i draws from the i-th derived seed, exactly as numpy_nn's NeuralNetwork does."""
    stack = LayerStack(FASHION_LAYERS, [1, 28, 28], "numpy", seed=3, dtype="float64")
    model = NeuralNetwork("cross_entropy", FASHION_LAYERS, {"name": "sgd", "lr": 0.1}, seed=3)
    model.set_mode("test")
    model.forward(np.zeros((2, 28, 28, 1)))  # lazy parameters
    ours = [m for m in stack.layers if isinstance(m, NumpyModule)]
    for theirs, mine in zip(model.layers, ours, strict=True):
        for name, value in theirs.parameters.items():
            np.testing.assert_array_equal(getattr(mine, name).detach().numpy(), value)


def test_iris_ffnn_is_a_layer_stack_with_its_state_dict_keys():
    net = IrisFFNN("torch", seed=0)
    assert isinstance(net, LayerStack)
    assert list(net.state_dict()) == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]


def test_batchnorm_of_the_numpy_backend_is_in_the_normalization_group():
    net = LayerStack(FASHION_LAYERS, [1, 28, 28], "numpy", seed=0)
    groups = Classifier(net, 10).param_groups()
    norm = {id(p) for p in groups[1]["params"]}
    expected = {
        id(p)
        for m in net.modules()
        if getattr(m, "is_normalization", False)
        for p in m.parameters()
    }
    assert len(expected) == 4 and norm == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "jax"}, "unknown backend"),
        ({"dtype": "float16"}, "dtype must be float32 or float64"),
        ({"input_shape": [28, 28]}, "input_shape must be"),
        ({"layers": []}, "layers is empty"),
        ({"layers": [{"n_out": 3}]}, "has no name"),
        (
            {
                "layers": [
                    {"name": "flatten"},
                    {"name": "fully_connected", "n_out": 10, "activation": "softmax"},
                ]
            },
            "must output logits",
        ),
        ({"layers": [{"name": "pool2d", "kernel_shape": 40}]}, "layer 0 \\(Pool2D\\)"),
        ({"tta_level": 3}, "tta_level must be"),
    ],
)
def test_bad_specs_are_clear_errors(kwargs, message):
    args = {"layers": FASHION_LAYERS, "input_shape": [1, 28, 28], **kwargs}
    with pytest.raises(ValueError, match=message):
        LayerStack(**args)


def test_every_numpy_nn_layer_kind_has_a_torch_twin():
    """numpy_nn.layers.LAYERS is the one list of layer kinds; a new kind needs its twin here."""
    from lightning_hw.networks.stack import TWINS
    from numpy_nn.layers import LAYERS

    assert set(TWINS) == set(LAYERS)

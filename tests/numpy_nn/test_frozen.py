"""A frozen layer (``trainable=False``): used, never learned. Its backward returns the same dL/dX
as a trainable twin's (float64, and against central differences), keeps no parameter gradient,
and a network around it learns exactly as if its gradients had been thrown away."""

import numpy as np
import pytest

from numpy_nn.layers import initialize_layer
from numpy_nn.models import NeuralNetwork

KINDS = {
    "fully_connected": ({"n_out": 5, "activation": "tanh"}, (6, 4)),
    "conv2d": ({"n_out": 3, "kernel_shape": 3, "activation": "relu", "pad": "same"}, (2, 5, 5, 2)),
    "conv2d[winograd]": (
        {"n_out": 3, "kernel_shape": 3, "activation": "relu", "algorithm": "winograd"},
        (2, 5, 4, 2),
    ),
    "batchnorm2d": ({}, (4, 3, 3, 2)),
    "batchnorm1d": ({}, (6, 4)),
}


def _pair(kind: str):
    options, shape = KINDS[kind]
    name = kind.split("[")[0]
    trainable = initialize_layer(name, seed=3, **options)
    frozen = initialize_layer(name, seed=3, trainable=False, **options)
    rng = np.random.default_rng(0)
    return trainable, frozen, rng.normal(size=shape), rng


@pytest.mark.parametrize("kind", KINDS)
def test_a_frozen_layer_passes_the_same_input_gradient_and_keeps_none_of_its_own(kind):
    trainable, frozen, X, rng = _pair(kind)
    Y = trainable.forward(X)
    np.testing.assert_array_equal(frozen.forward(X), Y)  # the same weights from the same seed
    dY = rng.normal(size=Y.shape)
    np.testing.assert_array_equal(frozen.backward(dY), trainable.backward(dY))
    assert all(not g.any() for g in frozen.gradients.values())
    assert all(g.any() for g in trainable.gradients.values())
    assert frozen.gradients.keys() == frozen.parameters.keys()  # the layer contract holds


@pytest.mark.parametrize("kind", KINDS)
def test_a_frozen_layers_input_gradient_is_the_central_difference(kind):
    """dL/dX of L = sum(Y * dY), float64, against (L(X + h) - L(X - h)) / 2h: below 1e-8."""
    _, frozen, X, rng = _pair(kind)
    dY = rng.normal(size=frozen.forward(X).shape)
    analytic = frozen.backward(dY)
    numeric, h = np.zeros_like(X), 1e-6
    for i in np.ndindex(X.shape):
        for sign in (1, -1):
            Xh = X.copy()
            Xh[i] += sign * h
            numeric[i] += sign * np.sum(frozen.forward(Xh) * dY) / (2 * h)
    assert np.max(np.abs(analytic - numeric)) < 1e-8


def test_a_frozen_first_convolution_does_no_backward_work():
    conv = initialize_layer(
        "conv2d", n_out=3, kernel_shape=2, activation="linear", trainable=False, seed=0
    )
    Y = conv.forward(np.ones((2, 4, 4, 3)))
    assert conv.backward(np.ones_like(Y), input_gradient=False) is None
    assert all(not g.any() for g in conv.gradients.values())


def _network(first_trainable: bool) -> NeuralNetwork:
    first = {"name": "conv2d", "n_out": 4, "kernel_shape": 3, "activation": "relu"}
    layers = [
        {**first, "trainable": first_trainable},
        {"name": "batchnorm2d"},
        {"name": "flatten"},
        {"name": "fully_connected", "n_out": 3, "activation": "softmax"},
    ]
    optimizer = {"name": "SGD", "lr": 0.1, "momentum": 0.9}
    return NeuralNetwork("cross_entropy", layers, optimizer, seed=7)


def test_a_network_around_a_frozen_layer_learns_as_with_its_gradients_dropped():
    """Five momentum-SGD steps, float64: the frozen layer's weights do not move by one bit; every
    other parameter equals, bit for bit, a twin's whose first-layer gradients are zeroed before
    each step."""
    frozen, twin = _network(False), _network(True)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(8, 6, 6, 2)), np.eye(3)[rng.integers(0, 3, 8)]
    frozen.forward(X), twin.forward(X)  # the parameters are made at the first forward
    start = {k: v.copy() for k, v in frozen.parameters().items()}
    for _ in range(5):
        for net in (frozen, twin):
            net.backward(Y, net.forward(X))
        for g in twin.layers[0].gradients.values():
            g[...] = 0.0
        frozen.update()
        twin.update()
    after, other = frozen.parameters(), twin.parameters()
    for name in ("W0", "b0"):
        np.testing.assert_array_equal(after[name], start[name])
    for name in after:
        np.testing.assert_array_equal(after[name], other[name])
    assert not np.array_equal(after["W3"], start["W3"])  # and the rest learns


def test_trainable_takes_a_boolean():
    with pytest.raises(ValueError, match="trainable must be true or false"):
        initialize_layer("fully_connected", n_out=2, trainable="no")


def test_whitening_filters_decorrelate_the_patches_as_derived():
    """float64: the first half of the filters gives outputs of second moment
    diag(lambda / (lambda + eps)); all the filters together, W W^T = 2 (S + eps I)^-1."""
    from numpy_nn.conv import whitening_filters

    rng = np.random.default_rng(0)
    images = rng.normal(size=(12, 7, 7, 3))
    images[..., 1] += 0.8 * images[..., 0]  # correlated channels
    W, b = whitening_filters(images, 2, eps=5e-4)
    conv = initialize_layer(
        "conv2d", n_out=24, kernel_shape=2, activation="linear", pad="valid", trainable=False
    )
    conv.forward(images[:1])
    conv.parameters["W"][...], conv.parameters["b"][...] = W, b
    Z = conv.forward(images).reshape(-1, 24)[:, :12]
    second = Z.T @ Z / len(Z)
    np.testing.assert_allclose(second - np.diag(np.diag(second)), 0, atol=1e-12)
    patches = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))
    patches = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 12)
    S = patches.T @ patches / len(patches)
    lam = np.linalg.eigvalsh(S)[::-1]
    np.testing.assert_allclose(np.diag(second), lam / (lam + 5e-4), rtol=1e-10)
    W2 = W.reshape(12, 24)
    np.testing.assert_allclose(W2 @ W2.T, 2 * np.linalg.inv(S + 5e-4 * np.eye(12)), rtol=1e-9)
    assert not b.any()

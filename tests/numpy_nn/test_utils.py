"""The handout's helpers: AttrDict, one-hot, centring and scaling, check_gradients."""

import numpy as np
import pytest

from numpy_nn.activations import TanH
from numpy_nn.layers import FullyConnected
from numpy_nn.utils import (
    AttrDict,
    center,
    check_gradients,
    integers_to_one_hot,
    normalize,
    one_hot,
    standardize,
)


def test_attrdict_keys_are_attributes():
    args = AttrDict({"lr": 0.1, "name": "SGD"})
    args.momentum = 0.9
    assert args.lr == args["lr"] == 0.1 and args["momentum"] == 0.9
    assert dict(args) == {"lr": 0.1, "name": "SGD", "momentum": 0.9}
    with pytest.raises(AttributeError, match="no key 'seed'"):
        args.seed  # noqa: B018


def test_integers_to_one_hot_has_max_val_plus_one_columns():
    np.testing.assert_array_equal(integers_to_one_hot(np.array([[2], [0]])), [[0, 0, 1], [1, 0, 0]])
    assert integers_to_one_hot(np.array([1, 0]), max_val=9).shape == (2, 10)  # the handout's mnist
    np.testing.assert_array_equal(
        integers_to_one_hot(np.array([1, 0]), 2), one_hot(np.array([1, 0]), 3)
    )


def test_center_normalize_standardize_along_an_axis():
    X = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    np.testing.assert_allclose(center(X), X - X.mean(axis=0))
    np.testing.assert_allclose(center(X, axis=1), X - X.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(normalize(X), [[0, 0], [0.5, 1], [1, 0.5]])
    np.testing.assert_allclose(normalize(X, max_val=4.0), (X - X.min(axis=0)) / 4)
    Z = standardize(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-9)
    np.testing.assert_array_equal(standardize(np.ones((3, 2))), 0)  # a constant column: 0, not NaN
    np.testing.assert_array_equal(X[:, 0], [1, 3, 5])  # the input is left alone
    np.testing.assert_allclose(standardize(np.arange(6).reshape(3, 2)).std(axis=0), 1, atol=1e-9)


def test_check_gradients_is_small_for_a_right_gradient_and_large_for_a_wrong_one(rng):
    Z, dY = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    act = TanH()
    right = act.backward(Z, dY)
    assert check_gradients(act.forward, right, Z.copy(), dY) < 1e-8
    assert check_gradients(act.forward, 2 * right, Z.copy(), dY) > 0.1
    layer = FullyConnected(2, "relu", seed=0)
    X = rng.normal(size=(5, 3))
    layer.forward(X)
    G = rng.normal(size=(5, 2))
    layer.backward(G)
    W = layer.parameters["W"].copy()
    assert check_gradients(layer.forward_with_param("W", X), layer.gradients["W"], W, G) < 1e-8


def test_check_gradients_takes_float_arrays_only():
    with pytest.raises(TypeError, match="x must be a float array"):
        check_gradients(lambda x: x, np.zeros(2), np.arange(2), np.ones(2))

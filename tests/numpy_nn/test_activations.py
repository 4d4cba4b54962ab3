"""Activations against PyTorch autograd in float64, and their error handling."""

import numpy as np
import pytest
import torch

from numpy_nn.activations import ACTIVATION_NAMES, Identity, Linear, initialize_activation
from tests.numpy_nn.torch_reference import TORCH_ACTIVATIONS


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_matches_torch(name, n, rng):
    Z = rng.normal(scale=3.0, size=(n, 6))
    dY = rng.normal(size=(n, 6))
    act = initialize_activation(name)
    z = torch.tensor(Z, requires_grad=True)
    y = TORCH_ACTIVATIONS[name](z)
    y.backward(torch.tensor(dY))
    np.testing.assert_allclose(act(Z), y.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(act.backward(Z, dY), z.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_is_stable_for_huge_inputs():
    Z = np.array([[1000.0, 1000.0, -1000.0], [-1e6, 0.0, 1e6]])
    S = initialize_activation("softmax")(Z)
    assert np.all(np.isfinite(S))
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    np.testing.assert_allclose(S[0], [0.5, 0.5, 0.0])


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        s = initialize_activation("sigmoid")(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(s, [[0.0, 0.5, 1.0]])


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_float32_stays_float32(name):
    Z = np.ones((3, 4), dtype=np.float32)
    act = initialize_activation(name)
    assert act(Z).dtype == np.float32
    assert act.backward(Z, Z).dtype == np.float32


def test_identity_is_linear_and_names_are_case_insensitive():
    assert Identity is Linear
    assert isinstance(initialize_activation("ReLU"), type(initialize_activation("relu")))


def test_unknown_name_is_a_clear_value_error():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        initialize_activation("swish")

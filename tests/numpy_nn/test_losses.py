"""Losses against torch in float64 (batch 1/7/1000), safety at 0, and input checks."""

import numpy as np
import pytest
import torch

from numpy_nn.datasets import one_hot
from numpy_nn.losses import L2, CrossEntropy, initialize_loss


def _batch(rng, n, k=5):
    Y = one_hot(rng.integers(k, size=n), k)
    P = rng.uniform(0.01, 1.0, size=(n, k))
    return Y, P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_cross_entropy_matches_torch(n, rng):
    Y, P = _batch(rng, n)
    loss = CrossEntropy("cross_entropy")
    p = torch.tensor(P, requires_grad=True)
    t = -(torch.tensor(Y) * torch.log(p)).sum(dim=1).mean()
    t.backward()
    np.testing.assert_allclose(loss.forward(Y, P), t.item(), rtol=1e-10)
    np.testing.assert_allclose(loss.backward(Y, P), p.grad.numpy(), rtol=1e-10)
    # and equals torch's own NLL on log-probabilities
    nll = torch.nn.functional.nll_loss(torch.log(torch.tensor(P)), torch.tensor(Y.argmax(1)))
    np.testing.assert_allclose(loss.forward(Y, P), nll.item(), rtol=1e-10)


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_l2_matches_torch(n, rng):
    Y, P = _batch(rng, n)
    p = torch.tensor(P, requires_grad=True)
    t = ((p - torch.tensor(Y)) ** 2).sum(dim=1).mean() / 2  # the course's 1/(2n)
    t.backward()
    np.testing.assert_allclose(L2().forward(Y, P), t.item(), rtol=1e-10)
    np.testing.assert_allclose(L2().backward(Y, P), p.grad.numpy(), rtol=1e-10)


def test_l2_is_the_courses_half_mean_squared_error():
    Y, P = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.5, 0.5], [1.0, 1.0]])
    # (0.25 + 0.25 + 1 + 0) / (2 * 2)
    assert L2().forward(Y, P) == pytest.approx(0.375)
    np.testing.assert_allclose(L2().backward(Y, P), (P - Y) / 2)
    mse = torch.nn.functional.mse_loss(torch.tensor(P), torch.tensor(Y))  # / (n k)
    assert L2().forward(Y, P) == pytest.approx(mse.item() * Y.shape[1] / 2)


def test_cross_entropy_is_safe_at_zero():
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    P = np.array([[0.0, 1.0], [0.5, 0.5]])
    with np.errstate(all="raise"):
        assert np.isfinite(CrossEntropy().forward(Y, P))
        g = CrossEntropy().backward(Y, P)
    assert np.all(np.isfinite(g))
    assert g[0, 1] == 0.0 and g[1, 0] == 0.0  # no gradient where the target is 0


def test_errors_name_the_problem():
    ce = initialize_loss("cross_entropy")
    with pytest.raises(ValueError, match="shape mismatch"):
        ce.forward(np.eye(3), np.ones((3, 2)) / 2)
    with pytest.raises(ValueError, match="not one-hot"):
        ce.forward(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="not one-hot"):
        ce.backward(np.array([[1.0, 1.0]]), np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        initialize_loss("hinge")
    assert isinstance(initialize_loss("mse"), L2)

"""SGD (with momentum and clipping) and Adam follow PyTorch's optimizers step for step."""

import numpy as np
import pytest
import torch

from numpy_nn.optimizers import SGD, Adam, initialize_optimizer


def _run_ours(opt, grads, p0):
    p = p0.copy()
    for g in grads:
        p -= opt.update("W0", p, g)
    return p


def _run_torch(make, grads, p0):
    p = torch.nn.Parameter(torch.tensor(p0))
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    return p.detach().numpy()


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch(momentum, rng):
    p0, grads = rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) for _ in range(20)]
    ours = _run_ours(SGD(0.1, momentum=momentum), grads, p0)
    theirs = _run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=momentum), grads, p0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_adam_matches_torch(rng):
    p0, grads = rng.normal(size=(4, 3)), [rng.normal(size=(4, 3)) for _ in range(20)]
    ours = _run_ours(Adam(0.01), grads, p0)
    theirs = _run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01), grads, p0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_clip_norm(rng):
    g = np.array([[3.0, 4.0]])
    np.testing.assert_allclose(
        SGD(1.0, clip_norm=1.0).update("W", np.zeros((1, 2)), g), [[0.6, 0.8]]
    )
    np.testing.assert_allclose(SGD(1.0, clip_norm=10.0).update("W", np.zeros((1, 2)), g), g)


def test_state_is_per_parameter():
    opt = SGD(1.0, momentum=0.5)
    opt.update("a", np.zeros(1), np.ones(1))
    assert opt.update("b", np.zeros(1), np.ones(1))[0] == 1.0
    assert opt.update("a", np.zeros(1), np.ones(1))[0] == 1.5


def test_bad_options():
    for lr in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="learning rate lr must be a positive number"):
            SGD(lr)
    with pytest.raises(ValueError, match="momentum must be in"):
        SGD(0.1, momentum=1.5)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        initialize_optimizer("rmsprop", lr=0.1)
    assert isinstance(initialize_optimizer("adam", lr=0.1, momentum=None), Adam)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_step_in_blocks_is_bit_identical_to_update(dtype, momentum, rng):
    """``step`` (blocked, in place) gives exactly the numbers of ``param -= update(...)``: on a
    parameter of several blocks plus a remainder, on a small one, and on a non-contiguous view
    (which takes the plain path)."""
    big = (SGD.BLOCK * 2 + 123,)
    for shape in (big, (3, 5)):
        p0 = rng.normal(size=shape).astype(dtype)
        grads = [rng.normal(size=shape).astype(dtype) for _ in range(4)]
        stepped, updated = p0.copy(), p0.copy()
        by_step, by_update = SGD(0.05, momentum=momentum), SGD(0.05, momentum=momentum)
        for g in grads:
            by_step.step("W0", stepped, g)
            updated -= by_update.update("W0", updated, g)
        np.testing.assert_array_equal(stepped, updated)
        assert not np.array_equal(stepped, p0)
    strided = np.zeros((4, SGD.BLOCK), dtype=dtype)[:, ::2]
    SGD(0.5).step("W", strided, np.ones_like(strided))
    np.testing.assert_array_equal(strided, -0.5)

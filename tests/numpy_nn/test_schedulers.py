"""The handout's learning-rate schedules, and SGD following them."""

import numpy as np
import pytest

from numpy_nn.optimizers import SGD, initialize_optimizer
from numpy_nn.schedulers import Constant, Exponential, initialize_scheduler


def test_constant_and_exponential():
    assert [Constant(0.1)(e) for e in (0, 5)] == [0.1, 0.1]
    smooth = Exponential(0.1, decay=0.5, stage_length=2)
    assert (
        smooth(0) == 0.1
        and smooth(2) == pytest.approx(0.05)
        and smooth(1) == pytest.approx(0.1 * 0.5**0.5)
    )
    steps = Exponential(0.1, decay=0.5, stage_length=2, staircase=True)
    assert [steps(e) for e in (0, 1, 2, 3, 4)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_initialize_scheduler_by_name_and_its_errors():
    assert isinstance(initialize_scheduler("constant", 0.1, decay=None), Constant)
    s = initialize_scheduler("exponential", 0.1, decay=0.9, stage_length=10, staircase=True)
    assert isinstance(s, Exponential) and s.staircase
    with pytest.raises(ValueError, match="needs stage_length"):
        initialize_scheduler("exponential", 0.1, decay=0.9)
    with pytest.raises(ValueError, match="unknown lr_scheduler 'cosine'"):
        initialize_scheduler("cosine", 0.1)
    with pytest.raises(ValueError, match="lr_decay must be at most 1"):
        Exponential(0.1, 2.0, 1)


def test_sgd_steps_with_the_schedules_rate():
    opt = SGD(0.1, lr_scheduler="exponential", lr_decay=0.5, stage_length=1, staircase=True)
    g = np.ones(3)
    np.testing.assert_allclose(opt.update("W0", np.zeros(3), g, epoch=0), 0.1)
    np.testing.assert_allclose(opt.update("W0", np.zeros(3), g, epoch=2), 0.025)
    p = np.zeros(70_000)  # the blocked in-place step follows the schedule too
    opt.step("W1", p, np.ones_like(p), epoch=1)
    np.testing.assert_allclose(p, -0.05)


def test_initialize_optimizer_takes_the_handouts_keywords():
    opt = initialize_optimizer(
        name="SGD",
        lr=0.01,
        lr_scheduler="constant",
        lr_decay=0.99,
        stage_length=1000,
        staircase=True,
        clip_norm=1.0,
        momentum=0.9,
    )
    assert isinstance(opt, SGD) and opt.momentum == 0.9 and opt.clip_norm == 1.0
    assert opt.learning_rate(500) == 0.01
    decaying = initialize_optimizer(
        "SGD", 0.01, lr_scheduler="exponential", lr_decay=0.5, stage_length=10, staircase=False
    )
    assert decaying.learning_rate(10) == pytest.approx(0.005)
    with pytest.raises(ValueError, match="the exponential lr_scheduler needs stage_length"):
        initialize_optimizer("SGD", 0.01, lr_scheduler="exponential", lr_decay=0.5)
    with pytest.raises(ValueError, match="bad options for optimizer 'adam'.*momentum"):
        initialize_optimizer("adam", 0.01, momentum=0.9)

"""WarmupLinearDecay (torch's LinearLR twice) draws the triangle the configs had before as a
LambdaLR, for every parameter group; the Classifier hands it the run's step count."""

import functools

import numpy as np
import pytest
import torch
from torch import nn

from lightning_hw.classifier import Classifier
from lightning_hw.schedules import WarmupLinearDecay


def _triangle(step, warm, total, start):
    """The former schedule (configs' `scheduler: onecycle`), as it was written."""
    return float(np.interp(step, [0, warm, total], [start, 1.0, 0.0]))


def _factors(total, fraction=0.2, start=0.2, scales=(1.0, 64.0)):
    params = [nn.Parameter(torch.zeros(1)) for _ in scales]
    opt = torch.optim.SGD([{"params": [p], "lr": 0.15 * s} for p, s in zip(params, scales)])
    scheduler = WarmupLinearDecay(opt, total, fraction, start)
    rows = []
    for _ in range(total + 1):
        rows.append([g["lr"] / (0.15 * s) for g, s in zip(opt.param_groups, scales)])
        opt.step()
        scheduler.step()
    return np.array(rows)


@pytest.mark.parametrize("total", [10, 100, 1000, 1960])  # 0.2 * total whole: as before exactly
def test_curve_is_the_former_triangle(total):
    expected = [_triangle(t, 0.2 * total, total, 0.2) for t in range(total + 1)]
    got = _factors(total)
    np.testing.assert_allclose(got[:, 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], expected, rtol=0, atol=1e-12)  # group ratio kept


def test_fractional_warmup_rounds_to_a_whole_step():
    """1888 steps (Fashion MLP, 16 epochs): the peak moves from step 377.6 to 378."""
    got = _factors(1888)[:, 0]
    expected = [_triangle(t, 378, 1888, 0.2) for t in range(1889)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert got.argmax() == 378 and got[-1] == 0.0


def test_needs_total_steps():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="total_steps"):
        WarmupLinearDecay(opt)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear, self.norm = nn.Linear(3, 4), nn.BatchNorm1d(4)

    def forward(self, x):
        return self.norm(self.linear(x))


def test_classifier_builds_groups_and_a_per_step_schedule():
    sgd = functools.partial(torch.optim.SGD, lr=0.5, momentum=0.9, weight_decay=0.01)
    model = Classifier(
        _Tiny(),
        num_classes=4,
        optimizer=sgd,
        lr_scheduler=functools.partial(WarmupLinearDecay, warmup_fraction=0.1),
        norm_lr_scale=64.0,
    )
    model.trainer = type("T", (), {"estimated_stepping_batches": 50})()  # what Lightning provides
    config = model.configure_optimizers()
    rest, norm = config["optimizer"].param_groups
    assert rest["lr"] == pytest.approx(0.5 * 0.2) and norm["lr"] == pytest.approx(0.5 * 64 * 0.2)
    assert rest["weight_decay"] == 0.01 and norm["weight_decay"] == pytest.approx(0.01 / 64)
    assert len(norm["params"]) == 2 and len(rest["params"]) == 2  # BN weight+bias, Linear W+b
    assert config["lr_scheduler"]["interval"] == "step"
    epochwise = Classifier(
        _Tiny(),
        num_classes=4,
        optimizer=sgd,
        lr_scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=3),
    )
    assert epochwise.configure_optimizers()["lr_scheduler"]["interval"] == "epoch"

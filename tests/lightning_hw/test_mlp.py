"""The MLP's Dropout: nn.Dropout's distribution with a cheaper CPU mask."""

import pytest
import torch
from torch import nn

from lightning_hw.networks.mlp import MLP, Dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_keeps_with_probability_1_minus_p_and_scales_the_kept(p):
    torch.manual_seed(0)
    x = torch.rand(512, 1024) + 0.5  # no zeros of its own
    y = Dropout(p)(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.01  # 524,288 draws: sd < 0.001
    torch.testing.assert_close(y[kept], x[kept] / (1 - p))


def test_gradient_is_the_same_mask_and_scale():
    torch.manual_seed(0)
    x = torch.randn(64, 32, requires_grad=True)
    y = Dropout(0.4)(x)
    y.sum().backward()
    expected = (y.detach() != 0).float() / 0.6
    torch.testing.assert_close(x.grad, expected)


def test_eval_p0_p1_and_seeding():
    x = torch.randn(8, 16)
    layer = Dropout(0.3).eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(Dropout(0.0)(x), x)
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))
    torch.manual_seed(5)
    a = Dropout(0.3)(x)
    torch.manual_seed(5)
    assert torch.equal(Dropout(0.3)(x), a)


def test_the_mlp_uses_it_and_keeps_nn_dropouts_state_dict():
    net = MLP(hidden=(16, 16), dropout=0.2)
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 2 and all(isinstance(m, Dropout) for m in drops)
    assert all("Dropout" not in k for k in net.state_dict())  # no state: old checkpoints load


@pytest.mark.parametrize("p", [0.05, 0.3, 0.9])
def test_keep_mask_every_lane_of_a_word_is_an_independent_fair_draw(p):
    """The mask packs four entries into one 64-bit draw: each of the four lanes keeps with
    probability 1 - p (a draw whose top bit is never set would keep its last lane far more
    often), neighbours are uncorrelated, and a size that is not a multiple of 4 works."""
    torch.manual_seed(0)
    mask = keep_mask(torch.Size((250_000, 4)), p).float()  # column j = lane j of every word
    torch.testing.assert_close(mask.mean(0), torch.full((4,), 1 - p), atol=0.004, rtol=0)
    centred = mask - mask.mean(0)
    corr = (centred.T @ centred) / len(mask) / (mask.std(0)[:, None] * mask.std(0)[None, :])
    assert (corr - torch.eye(4)).abs().max() < 0.01
    odd = keep_mask(torch.Size((3, 7)), p)
    assert odd.shape == (3, 7) and odd.dtype == torch.bool

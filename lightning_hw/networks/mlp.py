"""``MLP``: fully-connected layers only (the assignment's rule for Fashion-MNIST): Flatten, then
[Linear -> ReLU -> Dropout] per hidden layer, then a Linear to the logits."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lightning_hw.networks.base import Network


class Dropout(nn.Dropout):
    """``nn.Dropout`` (keep each unit with probability 1 - p, scale kept units by 1 / (1 - p)),
    with a cheaper mask on the CPU: uniform draws compared and scaled in place. torch's CPU
    ``bernoulli_`` took 42% of a Fashion MLP training step; for a 512 x 1024 batch it takes
    5.3 ms in float32 against 2.4 ms here (4.3 against 1.8 ms in bf16). Other devices use
    ``F.dropout``. Same distribution, other draws than ``nn.Dropout`` from the same seed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return F.dropout(x, self.p, self.training, self.inplace)
        if self.p == 1:
            return torch.zeros_like(x)
        mask = torch.rand_like(x).ge_(self.p).mul_(1.0 / (1.0 - self.p))
        return x.mul_(mask) if self.inplace else x * mask


class MLP(Network):
    def __init__(
        self,
        in_features: int = 784,
        hidden: Sequence[int] = (1024, 1024),
        num_classes: int = 10,
        dropout: float = 0.2,
    ):
        super().__init__()
        layers: list = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True), Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)

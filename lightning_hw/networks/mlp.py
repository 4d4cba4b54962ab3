"""``MLP``: fully-connected layers only (the assignment's rule for Fashion-MNIST): Flatten, then
[Linear -> ReLU -> Dropout] per hidden layer, then a Linear to the logits."""

from collections.abc import Sequence

from torch import nn

from lightning_hw.networks.base import Network


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
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)

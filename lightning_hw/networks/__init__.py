"""The networks the Classifier trains: inputs -> logits, each an ``nn.Module`` that records its
constructor arguments (``Network``) so a checkpoint can rebuild it."""

from lightning_hw.networks.base import Network, build_network
from lightning_hw.networks.cnn import CifarCNN
from lightning_hw.networks.iris import IrisFFNN
from lightning_hw.networks.mlp import MLP
from lightning_hw.networks.stack import LayerStack

__all__ = ["MLP", "CifarCNN", "IrisFFNN", "LayerStack", "Network", "build_network"]

"""One LightningModule (``Classifier``) and the networks it trains."""

from lightning_hw.models.classifier import Classifier
from lightning_hw.models.cnn import CifarCNN
from lightning_hw.models.iris import IrisFFNN
from lightning_hw.models.mlp import MLP

__all__ = ["MLP", "CifarCNN", "Classifier", "IrisFFNN"]

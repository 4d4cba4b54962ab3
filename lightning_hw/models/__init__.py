"""One LightningModule (``Classifier``) and the networks it trains."""

from lightning_hw.models.classifier import Classifier
from lightning_hw.models.iris import IrisFFNN

__all__ = ["Classifier", "IrisFFNN"]

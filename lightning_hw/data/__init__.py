"""LightningDataModules."""

from lightning_hw.data.iris import IrisDataModule
from lightning_hw.data.vision import CIFAR10DataModule, DataMissingError, FashionMNISTDataModule

__all__ = ["CIFAR10DataModule", "DataMissingError", "FashionMNISTDataModule", "IrisDataModule"]

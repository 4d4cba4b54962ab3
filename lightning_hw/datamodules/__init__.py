"""LightningDataModules."""

from lightning_hw.datamodules.iris import IrisDataModule
from lightning_hw.datamodules.vision import (
    CIFAR10DataModule,
    DataMissingError,
    FashionMNISTDataModule,
)

__all__ = ["CIFAR10DataModule", "DataMissingError", "FashionMNISTDataModule", "IrisDataModule"]

"""LightningDataModules. An image dataset is a ``VisionDataModule`` subclass (its
``image_shape``, ``classes`` and how to read it); ``image_datamodules()`` finds every one, so
``predict.py`` and the checkpoints need no list of them."""

from lightning_hw.datamodules.iris import IrisDataModule
from lightning_hw.datamodules.vision import (
    CIFAR10DataModule,
    DataMissingError,
    FashionMNISTDataModule,
    VisionDataModule,
    image_datamodules,
)

__all__ = [
    "CIFAR10DataModule",
    "DataMissingError",
    "FashionMNISTDataModule",
    "IrisDataModule",
    "VisionDataModule",
    "image_datamodules",
]

"""LightningDataModules."""

from lightning_hw.data.iris import IrisDataModule

__all__ = ["IrisDataModule"]

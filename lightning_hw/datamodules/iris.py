"""Iris for Lightning: exactly numpy_nn's split (stratified 105/15/30, standardized on train),
and by default numpy_nn's batch order too, so the Lightning and numpy_nn runs see the same
mini-batches from the same seed."""

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_hw.datamodules.sampling import ShardedOrder, world_of
from lightning_hw.seeding import current_seed
from numpy_nn.datasets import iris_arrays, shuffle_seed


class NumpyOrderSampler(ShardedOrder):
    """Each epoch, the order numpy_nn's ``Data.batches()`` would draw (sharded under DDP). Its
    generator state travels in checkpoints (via the DataModule), so a resumed run continues with
    the batches an uninterrupted one would have seen."""

    def __init__(self, n: int, seed: int, num_replicas: int = 1, rank: int = 0):
        super().__init__(n, num_replicas, rank)
        self.rng = np.random.default_rng(shuffle_seed(seed))

    def order(self) -> list[int]:
        return self.rng.permutation(len(self.dataset)).tolist()


class IrisDataModule(pl.LightningDataModule):
    """``seed`` (default: the one ``seed_everything`` set) drives the batch order."""

    def __init__(
        self,
        batch_size: int = 16,
        num_workers: int = 0,
        standardize: bool = True,
        seed: int | None = None,
    ):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size, self.num_workers, self.standardize = batch_size, num_workers, standardize
        self.seed = current_seed() if seed is None else seed
        self.save_hyperparameters(
            {"batch_size": batch_size, "standardize": standardize, "seed": self.seed}
        )

    def setup(self, stage=None):
        self.splits = {
            k: TensorDataset(
                torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
            )
            for k, (X, y) in iris_arrays(self.standardize).items()
        }
        self.sampler = NumpyOrderSampler(len(self.splits["train"]), self.seed, **world_of(self))
        if getattr(self, "_sampler_state", None) is not None:
            self.sampler.rng.bit_generator.state = self._sampler_state

    def _loader(self, split, sampler=None):
        return DataLoader(
            self.splits[split],
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
        )

    def train_dataloader(self):
        return self._loader("train", self.sampler)

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")

    def predict_dataloader(self):
        return self._loader("test")

    def state_dict(self):
        sampler = getattr(self, "sampler", None)
        return {"sampler": sampler.rng.bit_generator.state if sampler is not None else None}

    def load_state_dict(self, state_dict):
        self._sampler_state = state_dict.get("sampler")
        if self._sampler_state is not None and getattr(self, "sampler", None) is not None:
            self.sampler.rng.bit_generator.state = self._sampler_state

"""Training orders that survive a resume and shard exactly under DDP.

``ShardedOrder`` is torch's ``DistributedSampler`` (its padding, length and ``set_epoch``) over an
order of our choosing: each epoch's full order comes from ``order()``, and rank r of a world of
w processes takes every w-th index of it from r. Lightning leaves a ``DistributedSampler`` in
place instead of wrapping it (a wrapper would shuffle the order once more), so 2 processes at
half the batch train on exactly the batches of 1 process.
"""

import torch
from torch.utils.data import DistributedSampler


class ShardedOrder(DistributedSampler):
    def __init__(self, n: int, num_replicas: int = 1, rank: int = 0):
        super().__init__(range(n), num_replicas=num_replicas, rank=rank, shuffle=False)

    def order(self) -> list[int]:
        """This epoch's order of all ``n`` indices."""
        return list(range(len(self.dataset)))

    def __iter__(self):
        order = self.order()
        order += order[: self.total_size - len(order)]  # pad as DistributedSampler does
        return iter(order[self.rank : self.total_size : self.num_replicas])


class EpochShuffle(ShardedOrder):
    """A fresh permutation every epoch, drawn from (``seed``, epoch) alone: a run resumed at an
    epoch boundary repeats it, and every rank draws the same one."""

    def __init__(self, n: int, seed: int, num_replicas: int = 1, rank: int = 0):
        super().__init__(n, num_replicas, rank)
        self.seed = seed

    def order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(len(self.dataset), generator=generator).tolist()


def world_of(datamodule) -> dict:
    """``num_replicas`` and ``rank`` of the trainer running ``datamodule`` (1 and 0 without one)."""
    trainer = datamodule.trainer
    if trainer is None:
        return {"num_replicas": 1, "rank": 0}
    return {"num_replicas": trainer.world_size, "rank": trainer.global_rank}

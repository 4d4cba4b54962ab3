"""Learning-rate schedules that need the run's length.

The Classifier gives every scheduler that takes a ``total_steps`` argument the number of optimizer
steps of the whole run (``trainer.estimated_stepping_batches``) and steps it after every batch; any
other scheduler (``CosineAnnealingLR``, ``StepLR``, ...) steps once per epoch. torch's
``OneCycleLR`` works as it is under that rule.
"""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LinearLR, SequentialLR


class WarmupLinearDecay(SequentialLR):
    """The "triangle" of fast CIFAR training: the learning rate rises linearly from
    ``start_factor * lr`` to ``lr`` over the first ``warmup_fraction`` of the steps, then falls
    linearly to 0 at the last step. torch's ``LinearLR`` twice, in sequence:

        factor(t) = start + (1 - start) t / w          for t <= w = round(warmup_fraction * T)
                  = (T - t) / (T - w)                   for w <= t <= T

    Each parameter group keeps its own base lr (the ratio between groups is preserved).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int | None = None,
        warmup_fraction: float = 0.2,
        start_factor: float = 0.2,
    ):
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
        if total_steps is None:
            raise ValueError(
                "WarmupLinearDecay needs total_steps (the Classifier passes the run's)"
            )
        total = max(1, int(total_steps))
        warm = min(round(warmup_fraction * total), total - 1)
        if warm == 0:
            super().__init__(
                optimizer, [LinearLR(optimizer, 1.0, 0.0, total_iters=total)], milestones=[]
            )
            return
        up = LinearLR(optimizer, start_factor, 1.0, total_iters=warm)
        down = LinearLR(optimizer, 1.0, 0.0, total_iters=total - warm)
        super().__init__(optimizer, [up, down], milestones=[warm])

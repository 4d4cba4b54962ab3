"""``Classifier``: the one LightningModule. The network, the optimizer and the learning-rate
schedule are injected (LightningCLI's ``OptimizerCallable`` / ``LRSchedulerCallable``, written as
``class_path`` + ``init_args`` in the configs); this class owns the loss and the metrics
(separate torchmetrics objects per split) and knows nothing of any one dataset.

Logged per epoch: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``test/loss``,
``test/acc`` (TensorBoard tags); every ``*/loss`` is plain cross-entropy, also where training
minimizes a label-smoothed one. The learning rate comes from Lightning's ``LearningRateMonitor``.
"""

import functools
import inspect

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from lightning_hw.networks.base import Network

SPLITS = ("train", "val", "test")
CHECK_AT_ONCE = ("cpu",)  # devices whose losses are checked every step (no device to wait for)
NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
PRECISION_KEY = "precision"  # a checkpoint's entry: the precision it was trained and tested at


def _plain_sgd(params):
    return torch.optim.SGD(params, lr=0.1)


class Classifier(pl.LightningModule):
    """Trains ``network`` (inputs -> logits) with cross-entropy.

    Args:
        network: any ``nn.Module`` returning (n, num_classes) logits. Test and predict call its
            ``evaluate`` when it has one (test-time augmentation), else its forward.
        num_classes: number of classes.
        optimizer: builds the optimizer from parameter groups, e.g. ``torch.optim.SGD`` with its
            ``lr``, ``momentum``, ``weight_decay`` in the config.
        lr_scheduler: builds the schedule from the optimizer, or null for a constant rate. One
            that takes ``total_steps`` gets the run's step count and steps every batch
            (``lightning_hw.schedules``); any other steps every epoch.
        label_smoothing: cross-entropy label smoothing of the minimized training loss only (the
            logged ``train/loss`` stays plain cross-entropy).
        norm_lr_scale: the one custom rule for parameter groups: parameters of normalization
            layers learn ``norm_lr_scale`` times faster, with their weight decay divided by it, so
            that lr x weight_decay (the decay per step) stays the same (airbench's BatchNorm-bias
            learning rate).
        compile_network: compile the network with ``torch.compile`` when the Trainer sets up
            the model (the first steps then take longer while it compiles; meant for GPUs, its
            gain not yet measured; the state_dict keeps its keys).
    """

    def __init__(
        self,
        network: nn.Module,
        num_classes: int = 10,
        optimizer: OptimizerCallable = _plain_sgd,
        lr_scheduler: LRSchedulerCallable | None = None,
        label_smoothing: float = 0.0,
        norm_lr_scale: float = 1.0,
        compile_network: bool = False,
    ):
        super().__init__()
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if not norm_lr_scale > 0:
            raise ValueError(f"norm_lr_scale must be positive, got {norm_lr_scale}")
        self.save_hyperparameters(ignore=["network", "optimizer", "lr_scheduler"])
        # A checkpoint stores the network as {"class_path", "init_args"}, never as a pickled object.
        if isinstance(network, Network):
            self.hparams["network"] = network.config()
        self.network = network
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        # No argument checks or nan scans inside the metrics: each would make the host wait for
        # the device at every step (the labels come from our DataModules; _check_finite watches
        # the loss).
        for split in SPLITS:
            acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
            setattr(self, f"{split}_acc", acc)
            setattr(self, f"{split}_loss", MeanMetric(nan_strategy="disable"))
        self._nonfinite: dict[str, torch.Tensor] = {}  # split -> count of non-finite losses
        self._logged: set[str] = set()  # splits whose metrics self.log has seen this epoch

    def configure_model(self):
        if self.hparams.compile_network and not getattr(self, "_compiled", False):
            self.network.compile()  # in place: parameter names and checkpoints are unchanged
            self._compiled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for test and predict: the network's own ``evaluate`` (e.g. with TTA) if any."""
        return getattr(self.network, "evaluate", self.network)(x)

    def _step(self, batch, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss to minimize, the logits). The logged loss is plain cross-entropy in every
        split: with label smoothing the minimized loss differs, and only the plain one compares
        across splits."""
        x, y = batch
        logits = self.evaluate(x) if split == "test" else self(x)
        smoothing = self.hparams.label_smoothing if split == "train" else 0.0
        loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
        self._check_finite(loss, split)
        plain = loss.detach() if smoothing == 0 else F.cross_entropy(logits.detach(), y)
        acc, mean = getattr(self, f"{split}_acc"), getattr(self, f"{split}_loss")
        acc.update(logits.detach(), y)
        # one copy of the batch's mean loss per example: the epoch's mean weighs batches by size
        # (torchmetrics ignores `weight` when nan_strategy is "disable")
        mean.update(plain.expand(y.numel()))
        if split not in self._logged:
            # Once per epoch is enough: Lightning keeps the metric object and computes (and
            # resets) it at the epoch's end, over every update. self.log on every step took 7%
            # of a Fashion MLP training step.
            self.log(f"{split}/loss", mean, on_step=False, on_epoch=True, prog_bar=split != "train")
            self.log(f"{split}/acc", acc, on_step=False, on_epoch=True, prog_bar=True)
            self._logged.add(split)
        return loss, logits

    def _check_finite(self, loss: torch.Tensor, split: str) -> None:
        """Stop with one line when the loss is nan or inf. On the CPU at once. On an accelerator,
        reading the loss would make the host wait for the device at every step, so the count of
        bad steps stays on the device and is read once, at the end of the epoch."""
        if loss.device.type in CHECK_AT_ONCE:
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{split} loss became {loss.item()} at epoch {self.current_epoch}, "
                    f"global step {self.global_step}: lower the learning rate"
                )
            return
        bad = (~torch.isfinite(loss.detach())).sum()
        self._nonfinite[split] = self._nonfinite[split] + bad if split in self._nonfinite else bad

    def _raise_if_nonfinite(self, split: str) -> None:
        count = self._nonfinite.pop(split, None)
        if count is not None and int(count) > 0:  # the one host read of the epoch
            raise FloatingPointError(
                f"{split} loss became nan or inf in {int(count)} step(s) of epoch "
                f"{self.current_epoch}: lower the learning rate"
            )

    def on_train_epoch_start(self):
        self._logged.discard("train")

    def on_validation_epoch_start(self):
        self._logged.discard("val")

    def on_test_epoch_start(self):
        self._logged.discard("test")

    def on_train_epoch_end(self):
        self._raise_if_nonfinite("train")

    def on_validation_epoch_end(self):
        self._raise_if_nonfinite("val")

    def on_test_epoch_end(self):
        self._raise_if_nonfinite("test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Record the precision (e.g. ``bf16-mixed``): ``predict.py`` runs at the same one, so
        its accuracy is the test accuracy to the last digit."""
        checkpoint[PRECISION_KEY] = str(self.trainer.precision)

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")[0]

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        """Returns the logits: callbacks (``ErrorAnalysis``) read the predictions from them."""
        return self._step(batch, "test")[1].detach()

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.evaluate(x).argmax(dim=1)

    def configure_optimizers(self):
        optimizer = self.optimizer(self.param_groups())
        if len(optimizer.param_groups) == 2:  # the normalization group: see norm_lr_scale
            group, scale = optimizer.param_groups[1], self.hparams.norm_lr_scale
            group["lr"] *= scale
            group["weight_decay"] = group.get("weight_decay", 0.0) / scale
        if self.lr_scheduler is None:
            return optimizer
        if takes_total_steps(self.lr_scheduler):
            total = max(1, int(self.trainer.estimated_stepping_batches))
            scheduler = self.lr_scheduler(optimizer, total_steps=total)
            interval = "step"
        else:
            scheduler, interval = self.lr_scheduler(optimizer), "epoch"
        return {
            "optimizer": optimizer,
            # LearningRateMonitor's tags: lr, or lr/weights and lr/normalization
            "lr_scheduler": {"scheduler": scheduler, "interval": interval, "name": "lr"},
        }

    def param_groups(self) -> list[dict]:
        """Trainable parameters: the rest first, then (if any) those of normalization layers,
        each group named for TensorBoard's learning-rate tags."""
        norm_ids = {id(p) for m in self.modules() if is_normalization(m) for p in m.parameters()}
        trainable = [p for p in self.parameters() if p.requires_grad]
        rest = [p for p in trainable if id(p) not in norm_ids]
        norm = [p for p in trainable if id(p) in norm_ids]
        if not norm:
            return [{"params": rest}]
        return [{"params": rest, "name": "weights"}, {"params": norm, "name": "normalization"}]


def is_normalization(module: nn.Module) -> bool:
    """A torch normalization layer, or a numpy_nn BatchNorm inside the bridge."""
    return isinstance(module, NORM_LAYERS) or getattr(module, "is_normalization", False)


def takes_total_steps(factory) -> bool:
    """Does this scheduler factory accept ``total_steps``? (A config's class_path arrives as a
    ``functools.partial`` holding every init argument by name.)"""
    if isinstance(factory, functools.partial) and "total_steps" in factory.keywords:
        return True
    try:
        return "total_steps" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False

"""``Classifier``: the one LightningModule. The network is injected; this class owns the loss,
the metrics (separate torchmetrics objects per split), the optimizer and the schedule.

Logged per epoch: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``test/loss``,
``test/acc`` (TensorBoard tags), plus ``lr``.
"""

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from lightning_hw.models.cnn import tta_logits
from lightning_hw.models.network import Network, build_network

SPLITS = ("train", "val", "test")


class Classifier(pl.LightningModule):
    """Trains ``network`` (inputs -> logits) with cross-entropy.

    Args:
        network: any ``nn.Module`` returning (n, num_classes) logits.
        num_classes: number of classes.
        optimizer: "sgd", "adam" or "adamw".
        lr: peak learning rate.
        momentum, nesterov: SGD only.
        weight_decay: L2 penalty (decoupled for adamw).
        scheduler: "none", "cosine" (per epoch, to 0 at max_epochs) or "onecycle" (per step:
            linear warm-up from ``start_factor * lr`` to ``lr`` over ``warmup_fraction`` of training,
            then linear decay to 0).
        label_smoothing: cross-entropy label smoothing on the training loss only.
        norm_lr_scale: learning-rate multiplier for normalization layers' parameters; their weight
            decay is divided by it, so lr * weight_decay (the decay per step) stays the same
            (airbench's decoupled bias learning rate).
        tta_level: test-time augmentation for test and predict (0 none, 1 mirror, 2 mirror +
            translate; see models/cnn.py). Validation stays plain, to keep epochs cheap.
        whiten_images: how many training images fit the network's whitening layer before
            training, if the network has one (``fit_whitening``).
    """

    def __init__(
        self,
        network: nn.Module,
        num_classes: int = 10,
        optimizer: str = "sgd",
        lr: float = 0.1,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        scheduler: str = "none",
        warmup_fraction: float = 0.2,
        start_factor: float = 0.2,
        label_smoothing: float = 0.0,
        norm_lr_scale: float = 1.0,
        tta_level: int = 0,
        whiten_images: int = 5000,
    ):
        super().__init__()
        if optimizer not in ("sgd", "adam", "adamw"):
            raise ValueError(f"unknown optimizer {optimizer!r}: choose sgd, adam or adamw")
        if scheduler not in ("none", "cosine", "onecycle"):
            raise ValueError(f"unknown scheduler {scheduler!r}: choose none, cosine or onecycle")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.save_hyperparameters(ignore=["network"])
        # A checkpoint stores the network as {"class_path", "init_args"}, never as a pickled object.
        if isinstance(network, Network):
            self.hparams["network"] = network.config()
        self.network = network
        for split in SPLITS:
            setattr(self, f"{split}_acc", MulticlassAccuracy(num_classes, average="micro"))
            setattr(self, f"{split}_loss", MeanMetric())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for evaluation: the network with the configured test-time augmentation."""
        return tta_logits(self.network, x, self.hparams.tta_level)

    def on_fit_start(self):
        fit = getattr(self.network, "fit_whitening", None)
        dm = getattr(self.trainer, "datamodule", None)
        if fit is not None and hasattr(dm, "splits"):
            train = dm.splits["train"]
            fit(dm.eval_transform(train.images[: self.hparams.whiten_images]).to(self.device))

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        logits = self.evaluate(x) if split == "test" else self(x)  # TTA: test and predict only
        smoothing = self.hparams.label_smoothing if split == "train" else 0.0
        loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{split} loss became {loss.item()} at epoch {self.current_epoch}, "
                f"global step {self.global_step}: lower the learning rate"
            )
        acc, mean = getattr(self, f"{split}_acc"), getattr(self, f"{split}_loss")
        acc.update(logits.detach(), y)
        mean.update(loss.detach(), weight=y.numel())
        self.log(f"{split}/loss", mean, on_step=False, on_epoch=True, prog_bar=split != "train")
        self.log(f"{split}/acc", acc, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx: int = 0):
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.evaluate(x).argmax(dim=1)

    def configure_optimizers(self):
        hp = self.hparams
        groups = self._param_groups()
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=hp.lr, momentum=hp.momentum, nesterov=hp.nesterov)
        elif hp.optimizer == "adam":
            opt = torch.optim.Adam(groups, lr=hp.lr)
        else:
            opt = torch.optim.AdamW(groups, lr=hp.lr)
        if hp.scheduler == "none":
            return opt
        if hp.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(1, self.trainer.max_epochs)
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warm = hp.warmup_fraction * total
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: _triangle(step, warm, total, hp.start_factor)
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _param_groups(self) -> list:
        """Trainable parameters in two groups: normalization layers (lr x norm_lr_scale, weight
        decay / norm_lr_scale) and the rest (lr, weight_decay)."""
        hp = self.hparams
        norm_types = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)
        norm_ids = {
            id(p) for m in self.modules() if isinstance(m, norm_types) for p in m.parameters()
        }
        trainable = [p for p in self.parameters() if p.requires_grad]
        norm = [p for p in trainable if id(p) in norm_ids]
        rest = [p for p in trainable if id(p) not in norm_ids]
        groups = [{"params": rest, "lr": hp.lr, "weight_decay": hp.weight_decay}]
        if norm:
            scale = hp.norm_lr_scale
            groups.append(
                {"params": norm, "lr": hp.lr * scale, "weight_decay": hp.weight_decay / scale}
            )
        return groups


def _triangle(step: int, warm: float, total: int, start: float) -> float:
    """LR factor: linear from ``start`` at step 0 to 1 at ``warm``, then linear to 0 at ``total``."""
    return float(np.interp(step, [0, warm, total], [start, 1.0, 0.0]))


def load_classifier(path: str, map_location: str | None = "cpu") -> Classifier:
    """Rebuild a Classifier (network included) from a checkpoint alone, with weights_only loading."""
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise ValueError(
            f"{path} is not a Lightning checkpoint of this project (no state_dict/hyper_parameters)"
        )
    hp = {k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")}
    if "network" not in hp:
        raise ValueError(
            f"{path} does not record its network: it was not written by this project's Classifier"
        )
    model = Classifier(network=build_network(hp.pop("network")), **hp)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()

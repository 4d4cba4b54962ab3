"""``ErrorAnalysis``: what a classifier gets wrong on the test split, as pictures.

At the end of testing it writes into the run directory, and logs to TensorBoard's Images tab
(``test/confusion_matrix``, ``test/misclassified``):

- ``confusion_matrix.png``: torchmetrics' ``MulticlassConfusionMatrix`` of the test predictions
  (rows: true class, columns: predicted class; counts, shaded by the share of the true class);
- ``misclassified.png``: the first misclassified test images, each titled "predicted / true";
- ``confusion_matrix.json``: the counts, with the class names.

It needs a DataModule with ``classes`` (class names) and, for the image grid, ``mean``/``std``
(to undo the normalization); runs without ``classes`` (Iris) are left alone. The predictions are
those of the test step (the network's ``evaluate``: with test-time augmentation where it has one).
"""

import math
import os

import pytorch_lightning as pl
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from lightning_hw.io import new_figure, save_figure
from plumbing.files import write_json


def confusion_figure(matrix: torch.Tensor, classes: list[str], title: str = ""):
    """A (k x k) count matrix drawn with its numbers; each row shaded by its share of the row."""
    counts = matrix.cpu().long()
    share = counts.double() / counts.sum(1, keepdim=True).clamp(min=1)
    k = len(classes)
    fig, ax = new_figure(figsize=(1.0 + 0.62 * k, 0.6 + 0.55 * k))
    ax.imshow(share.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            color = "white" if share[i, j] > 0.5 else "black"
            ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.tight_layout()
    return fig


def mistakes_figure(images: torch.Tensor, predicted, true, classes: list[str], title: str = ""):
    """A grid of images in [0, 1] (n, c, h, w), each titled 'predicted / true'."""
    n = len(images)
    cols = min(8, max(1, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = new_figure((1.45 * cols, 1.6 * rows + 0.4), nrows=rows, ncols=cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i].permute(1, 2, 0).cpu().float().numpy()
        if img.shape[2] == 1:
            ax.imshow(img[:, :, 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(img)
        ax.set_title(f"{classes[predicted[i]]} /\n{classes[true[i]]}", fontsize=7)
    fig.suptitle(title or "misclassified test images: predicted / true", fontsize=9)
    fig.tight_layout()
    return fig


class ErrorAnalysis(pl.Callback):
    """Confusion matrix and misclassified images of the test split (see the module docstring).

    Args:
        images: how many misclassified images the grid shows (the first ones in test order).
    """

    def __init__(self, images: int = 32):
        if images < 0:
            raise ValueError(f"ErrorAnalysis: images must be >= 0, got {images}")
        self.images = images
        self.confusion: MulticlassConfusionMatrix | None = None
        self._mistakes: list = []

    @staticmethod
    def _classes(trainer) -> list[str] | None:
        classes = getattr(trainer.datamodule, "classes", None)
        return list(classes) if classes else None

    def on_test_start(self, trainer, pl_module):
        classes = self._classes(trainer)
        self.confusion = None
        if classes is None:
            return
        self.confusion = MulticlassConfusionMatrix(len(classes), validate_args=False)
        self.confusion.to(pl_module.device)
        self._mistakes, self._found = [], 0

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if self.confusion is None or outputs is None:
            return
        x, y = batch
        predicted = outputs.argmax(1)
        self.confusion.update(predicted, y)
        if self._found < self.images and x.ndim == 4:
            # one host read per batch, only until the grid is full
            wrong = (predicted != y).nonzero().flatten()[: self.images - self._found]
            if len(wrong):
                self._mistakes.append((x[wrong].cpu(), predicted[wrong].cpu(), y[wrong].cpu()))
                self._found += len(wrong)

    def on_test_end(self, trainer, pl_module):
        if self.confusion is None:
            return
        matrix = self.confusion.compute()  # summed over DDP processes: every rank must ask
        log_dir = trainer.log_dir
        if trainer.global_rank != 0 or trainer.fast_dev_run or trainer.logger is None:
            return
        classes = self._classes(trainer)
        title = os.path.basename(os.path.dirname(log_dir)) if log_dir else ""
        figures = {
            "confusion_matrix": confusion_figure(matrix, classes, f"{title}: test split"),
        }
        if self._mistakes:
            x, predicted, true = (torch.cat(parts) for parts in zip(*self._mistakes))
            figures["misclassified"] = mistakes_figure(
                self._visible(trainer.datamodule, x),
                predicted.tolist(),
                true.tolist(),
                classes,
                f"{title}: misclassified test images (predicted / true)",
            )
        experiment = getattr(trainer.logger, "experiment", None)
        os.makedirs(log_dir, exist_ok=True)
        write_json(
            os.path.join(log_dir, "confusion_matrix.json"),
            {"classes": classes, "rows_true_columns_predicted": matrix.cpu().tolist()},
        )
        for name, fig in figures.items():
            save_figure(fig, os.path.join(log_dir, f"{name}.png"))
            if hasattr(experiment, "add_figure"):  # TensorBoard
                experiment.add_figure(f"test/{name}", fig, global_step=trainer.global_step)

    @staticmethod
    def _visible(datamodule, x: torch.Tensor) -> torch.Tensor:
        """Undo the DataModule's normalization: back to pixel values in [0, 1]."""
        mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        if mean is None or std is None or mean.numel() != x.shape[1]:
            lo, hi = x.amin(), x.amax()
            return (x - lo) / (hi - lo).clamp(min=1e-12)
        shape = (1, -1, 1, 1)
        return (x * std.view(shape).to(x) + mean.view(shape).to(x)).clamp(0, 1)

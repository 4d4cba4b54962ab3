"""Callbacks: the per-epoch curves of a run, the whitening fit, and Lookahead.

- ``CurvesCallback``: ``metrics.json``, ``loss.png`` and ``accuracy.png`` in the run directory.
  (``ErrorAnalysis``, the test split's confusion matrix and mistakes, is in error_analysis.py.)
- ``FitWhitening``: fits a network's whitening layer from the DataModule's training images.
- ``Lookahead``: airbench's weight averaging (see its docstring for why not Lightning's).
"""

import os
import time

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from lightning_hw.io import plot_curves
from lightning_hw.runs import val_epochs
from plumbing.files import write_json


class CurvesCallback(pl.Callback):
    """Records train/val loss and accuracy (val only after the epochs that validated, listed in
    ``val_epochs``: every epoch unless ``check_val_every_n_epoch`` says otherwise), the wall time
    of every epoch (``seconds``) and the mean wall time of its training steps (``step_ms``:
    forward, backward and optimizer step, from batch start to batch end), the steps each epoch
    took (``batches``) of a whole pass over the training set (``epoch_batches``: fewer under
    ``limit_train_batches``); at the end of
    fitting writes ``loss.png`` and ``accuracy.png`` (train and val on each) and
    ``metrics.json`` into the run directory (the logger's, ``lightning_hw.runs``). The val curve is
    labelled by what it was measured on (``evaluation_label``: "test" when the DataModule
    validates on the official test split), also in ``metrics.json`` (``val_label``)."""

    KEYS = ("train/loss", "val/loss", "train/acc", "val/acc")

    def __init__(self, plot: bool = True):
        self.plot = plot
        self.history = {k: [] for k in self.KEYS}
        self.history["seconds"], self.history["step_ms"], self.history["val_epochs"] = [], [], []
        self._start = self._step_start = None
        self._step_seconds, self._steps = 0.0, 0
        self._partial = False  # an epoch ended before its last batch (max_steps)
        self._validated = False  # this epoch's validation ran

    def on_train_start(self, trainer, pl_module):
        done = len(self.history["train/loss"])  # restored from a checkpoint: a resumed run
        note = getattr(trainer.logger, "note", None)  # lightning_hw.board.TensorBoard
        if done and note is not None and trainer.global_rank == 0:
            note(f"resumed after {done} finished epoch{'s' * (done != 1)}", trainer.global_step)

    def on_train_epoch_start(self, trainer, pl_module):
        self._start = time.perf_counter()
        self._validated = False
        self._step_seconds, self._steps = 0.0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._step_seconds += time.perf_counter() - self._step_start
        self._steps += 1

    def on_validation_epoch_end(self, trainer, pl_module):
        self._validated |= not trainer.sanity_checking

    def on_train_epoch_end(self, trainer, pl_module):
        # The epoch's validation, if it had one, has already run: its figures are current (an
        # epoch without one would find the last validation's figures, which are not recorded).
        m = trainer.callback_metrics
        for k in self.KEYS:
            if k in m and (self._validated or not k.startswith("val/")):
                self.history[k].append(float(m[k]))
        if self._validated:
            self.history["val_epochs"].append(trainer.current_epoch + 1)
        self.history["seconds"].append(time.perf_counter() - self._start)
        # what the epoch trained on: its steps, of how many batches the training set makes
        self.history.setdefault("batches", []).append(self._steps)
        self.history["epoch_batches"] = _full_epoch(trainer)
        ms = 1000 * self._step_seconds / self._steps if self._steps else float("nan")
        self.history.setdefault("step_ms", []).append(ms)
        self._partial |= self._steps < trainer.num_training_batches

    def state_dict(self):
        return {"history": self.history}

    def load_state_dict(self, state_dict):
        self.history = state_dict["history"]
        self.history["val_epochs"] = val_epochs(self.history)  # older checkpoints: every epoch

    def on_fit_end(self, trainer, pl_module):
        self._write(trainer)

    def on_exception(self, trainer, pl_module, exception):
        """A run stopped by SIGINT or SIGTERM keeps the curves of its finished epochs
        (``metrics.json`` says ``"interrupted": true``); resuming it writes them whole."""
        if isinstance(exception, KeyboardInterrupt | SIGTERMException):
            self._write(trainer, interrupted=True)
            note = getattr(trainer.logger, "note", None)  # lightning_hw.board.TensorBoard
            if note is not None and trainer.global_rank == 0:
                epochs = len(self.history["train/loss"])
                note(
                    f"**interrupted** after {epochs} finished epoch{'s' * (epochs != 1)}: "
                    "continue it with the same command and `--ckpt_path last`",
                    trainer.global_step,
                )

    def _write(self, trainer, **marks):
        log_dir = trainer.log_dir  # a collective under DDP: every rank must ask
        if (
            trainer.global_rank != 0
            or log_dir is None
            or trainer.fast_dev_run
            or trainer.logger is None
        ):
            return  # a smoke run (or one without a logger) leaves no files behind
        os.makedirs(log_dir, exist_ok=True)
        val_label = evaluation_label(trainer.datamodule)
        h = self.history
        short = self._partial or not h["train/loss"] or not h["val/loss"]
        marks = {**marks, **({"short": True} if short else {})}  # see lightning_hw.runs.is_short
        history = {**h, "val_label": val_label, **marks}
        write_json(os.path.join(log_dir, "metrics.json"), history)
        if self.plot:
            plot_history(history, log_dir, title=os.path.basename(os.path.dirname(log_dir)))


def _full_epoch(trainer) -> int | None:
    """Batches in one whole pass over the training set (``limit_train_batches`` aside)."""
    try:
        return len(trainer.train_dataloader)
    except TypeError:  # an iterable without a length
        return None


def plot_history(history: dict, folder: str | os.PathLike, title: str) -> list[str]:
    """``loss.png`` and ``accuracy.png`` of a run's ``metrics.json`` history in ``folder``: train
    and validation (or per-epoch test: its ``val_label``) on each. Returns their paths."""
    paths = []
    for kind, label in (("loss", "cross-entropy loss (no label smoothing)"), ("acc", "accuracy")):
        curves = {
            "train": history[f"train/{kind}"],
            history.get("val_label", "val"): dict(zip(val_epochs(history), history[f"val/{kind}"])),
        }
        paths.append(os.path.join(folder, "loss.png" if kind == "loss" else "accuracy.png"))
        plot_curves(paths[-1], curves, label, title=title)
    return paths


def evaluation_label(datamodule) -> str:
    """What a run's per-epoch ``val/*`` curves were measured on, as plots and reports name it:
    "test" where the DataModule validates on the official test split (``val_split: test``, the
    assignment's practice), else "validation"."""
    hparams = getattr(datamodule, "hparams", None) or {}
    return "test" if hparams.get("val_split") == "test" else "validation"


class FitWhitening(pl.Callback):
    """Before training, fit the network's whitening layer (``network.fit_whitening``) from the
    first ``images`` training images of the DataModule (``datamodule.training_images``), in the
    eval transform. List it before ``Lookahead``, whose average starts from the fitted weights."""

    def __init__(self, images: int = 5000):
        if images < 1:
            raise ValueError(f"FitWhitening needs at least 1 image, got {images}")
        self.images = images

    def on_fit_start(self, trainer, pl_module):
        network, data = pl_module.network, trainer.datamodule
        if not hasattr(network, "fit_whitening"):
            raise TypeError(f"FitWhitening: {type(network).__name__} has no fit_whitening()")
        network.fit_whitening(data.training_images(self.images).to(pl_module.device))


class Lookahead(pl.Callback):
    """Lookahead with an EMA of the weights, as in airbench: every ``every`` steps,

        ema <- ema + (1 - decay_t) (w - ema),   w <- ema,

    with decay_t = ``decay`` * (t / T)^3 growing from 0 (plain SGD early on) to ``decay`` near
    the end; after the last step the weights are set to the average (before the last
    validation and checkpoint, which therefore see them). It smooths the noise of a
    large learning rate at the end of a short run. Floating-point buffers (BatchNorm's running
    statistics) are averaged too.

    Not Lightning's ``WeightAveraging``/EMA: that keeps the average beside the weights and never
    writes it back during training, while Lookahead pulls the training weights to it every
    ``every`` steps, which changes the trajectory.
    """

    def __init__(self, every: int = 5, decay: float = 0.95**5):
        self.every, self.decay = every, decay
        self.ema = None

    def _floats(self, module):
        return {k: v for k, v in module.state_dict().items() if v.is_floating_point()}

    def on_fit_start(self, trainer, pl_module):
        if self.ema is None:
            self.ema = {k: v.detach().clone() for k, v in self._floats(pl_module).items()}

    def _update(self, pl_module, decay):
        with torch.no_grad():
            for k, w in self._floats(pl_module).items():
                e = self.ema[k]
                e.lerp_(w.to(e.dtype), 1.0 - decay)
                w.copy_(e)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step, total = trainer.global_step, max(1, int(trainer.estimated_stepping_batches))
        if step >= total:  # the last step: from now on the weights are the average
            self._update(pl_module, 1.0)
        elif step % self.every == 0:
            self._update(pl_module, self.decay * (step / total) ** 3)

    def state_dict(self):
        return {"ema": self.ema}

    def load_state_dict(self, state_dict):
        self.ema = state_dict["ema"]

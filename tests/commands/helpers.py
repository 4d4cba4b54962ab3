"""Callbacks used by tests through configs (importable as tests.commands.helpers)."""

import os
import signal

import pytorch_lightning as pl


class KillAfterEpoch(pl.Callback):
    """SIGKILL this process once epoch ``epoch`` (0-based) is complete and checkpointed: the kill
    happens at the start of the next epoch, as a crash would."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch + 1:
            os.kill(os.getpid(), signal.SIGKILL)


class AcceptFakeCifar(pl.Callback):
    """Lets a train.py subprocess read the fake CIFAR-10 files of tests/lightning_hw/fake_data.py
    (torchvision checks the official MD5 sums, which they cannot match)."""

    def __init__(self):
        import torchvision

        torchvision.datasets.CIFAR10._check_integrity = lambda self: True
        torchvision.datasets.cifar.check_integrity = lambda *a, **k: True


class RecordSteps(pl.Callback):
    """Writes ``out_dir/rank<R>.json``: per training step, the loss, a fingerprint of every
    example in the batch, and a digest of all parameters after the optimizer step."""

    def __init__(self, out_dir: str):
        self.out_dir, self.steps = out_dir, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        import hashlib
        import zlib

        import torch

        x = batch[0].detach().cpu().float().flatten(1)  # the same bytes in any precision
        params = torch.cat([p.detach().flatten().double().cpu() for p in pl_module.parameters()])
        self.steps.append(
            {
                "epoch": trainer.current_epoch,
                "loss": float(outputs["loss"]),
                "examples": [zlib.crc32(row.numpy().tobytes()) for row in x],
                "params": hashlib.sha1(params.numpy().tobytes()).hexdigest(),
            }
        )

    def on_train_end(self, trainer, pl_module):
        import json
        from pathlib import Path

        path = Path(self.out_dir) / f"rank{trainer.global_rank}.json"
        path.write_text(json.dumps(self.steps))


class SignalAfterEpoch(pl.Callback):
    """Send this process ``signal_name`` (SIGTERM, SIGINT) once epoch ``epoch`` (0-based) is
    complete and checkpointed, as ``kill`` or Ctrl+C would during the next epoch's first step."""

    def __init__(self, epoch: int, signal_name: str):
        self.epoch, self.signum = epoch, getattr(signal, signal_name)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch + 1 and batch_idx == 0:
            os.kill(os.getpid(), self.signum)

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

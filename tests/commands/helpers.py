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

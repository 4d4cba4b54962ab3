"""The Classifier's GPU-minded paths, run on the CPU: the non-finite-loss check that reads the
device once per epoch, and ``compile_network``."""

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lightning_hw import classifier
from lightning_hw.classifier import Classifier


class NanNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(x) * float("nan")


def _loader(n=24, batch=8):
    g = torch.Generator().manual_seed(0)
    return DataLoader(TensorDataset(torch.randn(n, 4, generator=g), torch.arange(n) % 3), batch)


def _fit(model, **trainer_args):
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        **trainer_args,
    )
    trainer.fit(model, _loader())
    return trainer


def test_nan_loss_stops_at_once_on_the_cpu():
    with pytest.raises(
        FloatingPointError, match=r"train loss became nan at epoch 0, global step 0"
    ):
        _fit(Classifier(NanNet(), num_classes=3))


def test_nan_loss_on_an_accelerator_is_read_once_per_epoch(monkeypatch):
    """Where a read would wait for the device, bad steps are counted there and read at epoch end;
    no training step turns a tensor into a Python value (bool, int, float, item)."""
    monkeypatch.setattr(classifier, "CHECK_AT_ONCE", ())
    model = Classifier(NanNet(), num_classes=3)
    reads, in_step = [], [False]
    for name in ("__bool__", "__int__", "__float__", "item"):
        real = getattr(torch.Tensor, name)

        def spy(t, real=real, name=name):
            if in_step[0]:
                reads.append(name)
            return real(t)

        monkeypatch.setattr(torch.Tensor, name, spy)
    step = model.training_step

    def watched_step(*args):
        in_step[0] = True
        try:
            return step(*args)
        finally:
            in_step[0] = False

    model.training_step = watched_step
    with pytest.raises(FloatingPointError, match=r"in 3 step\(s\) of epoch 0: lower the learning"):
        _fit(model)
    assert reads == []


def test_compile_network_keeps_names_and_numbers():
    torch.manual_seed(0)
    plain = Classifier(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)), num_classes=3)
    compiled = Classifier(
        nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        num_classes=3,
        compile_network=True,
    )
    compiled.load_state_dict(plain.state_dict())
    _fit(plain, max_steps=2)
    _fit(compiled, max_steps=2)
    assert compiled.network._compiled_call_impl is not None  # nn.Module.compile, in place
    assert plain.network._compiled_call_impl is None
    assert list(compiled.state_dict()) == list(plain.state_dict())
    for a, b in zip(plain.parameters(), compiled.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_logged_training_loss_is_plain_cross_entropy_under_label_smoothing():
    """Training minimizes the smoothed loss, but train/loss is the plain cross-entropy, the same
    quantity as val/loss and test/loss: computed here by hand from the same logits."""
    torch.manual_seed(0)
    net = nn.Linear(4, 3)
    model = Classifier(net, num_classes=3, label_smoothing=0.3)
    x, y = next(iter(_loader(n=8, batch=8)))
    loss, logits = model._step((x, y), "train")
    plain = -torch.log_softmax(logits, 1)[torch.arange(8), y].mean()
    smoothed = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.3)
    assert loss.item() == pytest.approx(smoothed.item())  # what the optimizer sees
    assert model.train_loss.compute().item() == pytest.approx(plain.item())  # what is logged
    assert abs(smoothed.item() - plain.item()) > 0.01  # the two differ: the test can fail


class Recorder(pl.Callback):
    """Per epoch and split: every batch's logits and labels, and the metrics Lightning logged."""

    def __init__(self):
        self.batches, self.logged = {}, {}

    def _keep(self, trainer, split, pl_module, batch):
        x, y = batch
        with torch.no_grad():
            self.batches.setdefault((split, trainer.current_epoch), []).append((pl_module(x), y))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._keep(trainer, "train", pl_module, batch)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *_):
        self._keep(trainer, "val", pl_module, batch)

    def on_train_epoch_end(self, trainer, pl_module):
        self.logged[trainer.current_epoch] = dict(trainer.callback_metrics)


def test_epoch_metrics_cover_every_batch_of_the_epoch():
    """The metrics are handed to self.log once per epoch; what is logged must still be the
    example-weighted mean over all of the epoch's batches (here 3 batches of 8 and one of 4),
    epoch after epoch, train and validation alike."""
    torch.manual_seed(0)
    model = Classifier(nn.Linear(4, 3), num_classes=3, optimizer=lambda p: torch.optim.SGD(p, 0.0))
    recorder = Recorder()  # lr 0: the weights stay put, the recorded logits are the trained-on ones
    trainer = pl.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[recorder],
    )
    trainer.fit(model, _loader(n=28), _loader(n=20, batch=6))
    for epoch in range(3):
        for split in ("train", "val"):
            logits = torch.cat([b[0] for b in recorder.batches[(split, epoch)]])
            y = torch.cat([b[1] for b in recorder.batches[(split, epoch)]])
            logged = recorder.logged[epoch]
            acc = (logits.argmax(1) == y).float().mean()
            torch.testing.assert_close(logged[f"{split}/acc"], acc)
            loss = torch.stack(
                [
                    nn.functional.cross_entropy(lg, t) * len(t)
                    for lg, t in recorder.batches[(split, epoch)]
                ]
            ).sum() / len(y)
            torch.testing.assert_close(logged[f"{split}/loss"], loss)

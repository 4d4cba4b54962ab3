"""README, "Where things go": a dataset is a VisionDataModule subclass and a config fragment;
train.py trains on it and predict.py predicts with its checkpoint, neither edited."""

import numpy as np

from commands.cli import train
from commands.predict import run as predict
from lightning_hw import runs
from tests.commands.toy_dataset import ToyDataModule
from tests.conftest import ROOT

FRAGMENT = """\
data:
  class_path: tests.commands.toy_dataset.ToyDataModule
  init_args: {batch_size: 16, eval_batch_size: 32}
"""
EXPERIMENT = """\
defaults: [{root}/configs/logger/tensorboard.yaml, {root}/configs/trainer/default.yaml,
           datamodule/toy.yaml, {root}/configs/model/mlp.yaml]
seed_everything: 0
trainer: {{max_epochs: 3, enable_progress_bar: false, logger: {{init_args: {{save_dir: {logs}}}}}}}
model:
  num_classes: 2
  network: {{init_args: {{in_features: 64, hidden: [16], num_classes: 2, dropout: 0.0}}}}
  optimizer: {{class_path: torch.optim.SGD, init_args: {{lr: 0.1, momentum: 0.9}}}}
checkpoint: {{monitor: null}}
"""


def test_a_new_dataset_trains_and_predicts_without_editing_commands(tmp_path):
    (tmp_path / "datamodule").mkdir()
    (tmp_path / "datamodule" / "toy.yaml").write_text(FRAGMENT)
    config = tmp_path / "toy.yaml"
    config.write_text(EXPERIMENT.format(root=ROOT, logs=tmp_path / "logs"))
    result = train(["--config", str(config)])
    assert result["test"]["test/acc"] == 1.0  # the two kinds are easy to tell apart
    run = runs.latest_finished(tmp_path / "logs", ["toy"])
    assert run is not None and runs.last_checkpoint(run).is_file()

    images = ToyDataModule().load_split(train=False)[0].numpy()  # N x 1 x 8 x 8 uint8
    np.save(tmp_path / "toy.npy", images[:, 0])  # as N x 8 x 8, a shape predict.py accepts
    out = predict(
        str(runs.last_checkpoint(run)), str(tmp_path / "toy.npy"), str(tmp_path / "p.csv")
    )
    assert out["n"] == 40 and list(out["predictions"]) == [i % 2 for i in range(40)]
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "Id,Category" and lines[1:3] == ["1,0", "2,1"]
    assert predict(str(runs.last_checkpoint(run)), None, str(tmp_path / "q.csv"))["accuracy"] == 1.0

"""train.py on Iris end to end: accuracy, TensorBoard scalars, checkpoints, config, compare."""

import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from commands.cli import resolve_config, train
from commands.compare import compare, numpy_nn_options
from lightning_hw.checkpoints import load_classifier
from lightning_hw.datamodules import IrisDataModule
from lightning_hw.networks import IrisFFNN
from numpy_nn.experiment import DEFAULTS
from tests.conftest import ROOT

QUIET = ["--trainer.enable_progress_bar", "false"]


@pytest.fixture(scope="module")
def numpy_run(tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    return train(
        [
            "--config",
            str(ROOT / "configs/iris_numpy.yaml"),
            *QUIET,
            "--trainer.logger.init_args.save_dir",
            str(logs),
        ]
    )


def test_numpy_backed_model_reaches_numpy_nn_accuracy(numpy_run):
    assert numpy_run["test"]["test/acc"] >= 0.89  # the course's split: 27 of its 30 test flowers


def test_run_dir_has_config_checkpoints_and_plots(numpy_run):
    from pathlib import Path

    d = Path(numpy_run["log_dir"])
    assert d.parent.name == "iris_numpy" and d.name.startswith("version_")
    config = yaml.safe_load((d / "config.yaml").read_text())
    assert config["model"]["network"]["init_args"]["backend"] == "numpy"
    names = {p.name for p in (d / "checkpoints").iterdir()}
    assert "last.ckpt" in names and any(n.startswith("best-") for n in names)
    assert (d / "loss.png").stat().st_size > 1000 and (d / "accuracy.png").stat().st_size > 1000


def test_tensorboard_has_the_scalars_and_hparams(numpy_run):
    acc = EventAccumulator(numpy_run["log_dir"])
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"} <= tags
    assert acc.Scalars("z_lr/all")[0].value == pytest.approx(0.05)  # LearningRateMonitor
    assert len(acc.Scalars("val/acc")) == 100
    assert acc.Scalars("test/acc")[-1].value >= 0.89  # 27 of 30, in float32
    content = acc.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    assert {m.name.tag for m in experiment.experiment.metric_infos} == {"test/loss", "test/acc"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["model/optimizer/lr"].number_value == 0.05


def test_checkpoint_reloads_and_predicts_identically(numpy_run):
    model = numpy_run["model"]
    ckpt = numpy_run["best_checkpoint"]
    torch.load(ckpt, weights_only=True)  # no pickled objects inside
    reloaded = load_classifier(ckpt)
    dm = IrisDataModule(batch_size=30, seed=0)
    dm.setup()
    x, _ = next(iter(dm.test_dataloader()))
    model.eval()  # after train() it holds the best checkpoint's weights (tested on them)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), model(x), rtol=0, atol=0)
        untrained = IrisFFNN("numpy", seed=0)
        assert not torch.equal(reloaded.network(x), untrained(x))  # the weights came from the file
    assert reloaded.network.backend == "numpy"


def test_compare_config_matches_numpy_nn_defaults():
    assert numpy_nn_options(resolve_config(str(ROOT / "configs/iris_numpy.yaml"))) == DEFAULTS


def test_compare_writes_table_and_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    (tmp_path / "cmp.yaml").write_text(
        "runs: {numpy: configs/iris_numpy.yaml, torch: configs/iris_torch.yaml}\n"
        "numpy_nn: true\noutput_dir: out\n"
    )
    result = compare("cmp.yaml", epochs=3)
    losses = [r["train_loss"] for r in result["rows"]]
    assert len(losses) == 3 and max(losses) - min(losses) < 1e-5  # same batches, same weights
    assert (tmp_path / "out" / "comparison.png").stat().st_size > 1000
    table = (tmp_path / "out" / "comparison.md").read_text()
    assert "Lightning, torch backend" in table
    assert "| final val loss |" in table  # Iris validates on its own 15 held-out flowers


def test_compare_from_anywhere_with_an_absolute_config_and_an_output_dir(tmp_path):
    """Run paths resolve against the compare config's folder; --output_dir holds everything."""
    elsewhere, out = tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "compare",
            "--config",
            str(ROOT / "configs/iris_compare.yaml"),
            "--epochs",
            "2",
            "--output_dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr
    assert "Lightning, torch backend" in (out / "comparison.md").read_text()
    assert {"iris_numpy", "iris_torch", "numpy_nn"} <= {p.name for p in out.iterdir()}
    assert list(elsewhere.iterdir()) == []  # nothing written where it was run from


def test_cli_overrides_and_print_config(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--config",
            str(ROOT / "configs/iris_torch.yaml"),
            "--model.optimizer.lr",
            "0.2",
            "--trainer.max_epochs",
            "5",
            "--print_config",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    assert (
        config["model"]["optimizer"]["init_args"]["lr"] == 0.2
        and config["trainer"]["max_epochs"] == 5
    )


def test_a_run_prints_none_of_lightnings_noise(tmp_path):
    """train.py says what the project says: no device banner, no AMP line repeating the
    project's precision line, no seed line on stderr, no restoring chatter, no advert."""
    from commands.quiet import NOISE

    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--config", str(ROOT / "configs/iris_torch.yaml")]
        + ["--trainer.max_epochs", "1", *QUIET],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout + done.stderr
    assert [n for n in NOISE if n in said] == [], said[-2000:]
    assert "run saved to" in done.stdout

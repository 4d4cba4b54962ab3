"""Numpy-backed CNNs in Lightning: the Fashion twins step for step, checkpoints with BatchNorm's
running statistics, predict.py, compare, and the CPU-only rule."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from commands.cli import train
from commands.compare import compare
from commands.predict import run as predict_run
from lightning_hw.checkpoints import load_classifier
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import make_fashion

QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
LAYERS = yaml.safe_load((ROOT / "configs/model/fashion_cnn.yaml").read_text())["model"]["network"][
    "init_args"
]["layers"]


def _override(tmp_path, name, **network) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"model": {"network": {"init_args": network}}}))
    return str(path)


def test_twins_give_the_same_loss_at_every_step_float64(tmp_path, fashion_dir, monkeypatch):
    """30 SGD steps (nesterov, weight decay, the warm-up schedule, label smoothing, flips) of the
    numpy-backed and the torch-native Fashion CNN from one seed: BatchNorm included; dropout off
    (its masks come from different generators; test_bridge shows they follow the seed)."""
    layers = [dict(s, p=0.0) if s["name"] == "dropout" else s for s in LAYERS]
    float64 = _override(tmp_path, "f64", dtype="float64", layers=layers)
    monkeypatch.chdir(tmp_path)  # without a logger, checkpoints go to ./checkpoints
    losses = {}
    for backend in ("numpy", "torch"):
        out = tmp_path / backend
        out.mkdir()
        train(
            [
                "--config",
                str(ROOT / f"configs/fashion_cnn_{backend}.yaml"),
                "--config",
                float64,
                *QUIET,
                "--trainer.max_epochs",
                "1",
                "--trainer.limit_train_batches",
                "30",
                "--trainer.limit_val_batches",
                "0",
                "--trainer.limit_test_batches",
                "1",
                "--trainer.logger",
                "false",
                "--checkpoint.save_last",
                "false",
                "--data.init_args.data_dir",
                str(fashion_dir),
                "--trainer.callbacks+=tests.commands.helpers.RecordSteps",
                f"--trainer.callbacks.out_dir={out}",
            ]
        )
        losses[backend] = [s["loss"] for s in json.loads((out / "rank0.json").read_text())]
    assert len(losses["numpy"]) == 30
    np.testing.assert_allclose(losses["numpy"], losses["torch"], rtol=1e-9, atol=1e-9)
    assert losses["numpy"][-1] < 0.6 * losses["numpy"][0]  # and it learns


def test_checkpoint_reloads_running_statistics_and_predict_works(tmp_path, monkeypatch):
    data = make_fashion(tmp_path / "data", n_train=256, n_test=40)
    r = train(
        [
            "--config",
            str(ROOT / "configs/fashion_cnn_numpy.yaml"),
            *QUIET,
            "--trainer.max_epochs",
            "2",
            "--data.init_args.data_dir",
            str(data),
            "--data.init_args.batch_size",
            "32",
            "--trainer.logger.init_args.save_dir",
            str(tmp_path / "logs"),
        ]
    )
    assert "fashion_cnn_numpy" in r["log_dir"]
    trained = r["model"].network.eval()
    reloaded = load_classifier(r["best_checkpoint"]).network
    running = {k: v for k, v in reloaded.state_dict().items() if "running_" in k}
    assert len(running) == 4  # mean and var of both BatchNorm layers
    for k, v in running.items():
        torch.testing.assert_close(v, trained.state_dict()[k])
        assert not torch.equal(v, torch.zeros_like(v)) and not torch.equal(v, torch.ones_like(v))
    x = torch.randn(5, 1, 28, 28)
    torch.testing.assert_close(reloaded(x), trained(x))  # evaluation mode: running statistics
    out = tmp_path / "predictions.csv"
    result = predict_run(r["best_checkpoint"], None, str(out), data_dir=str(data))
    lines = out.read_text().splitlines()
    assert lines[0] == "Id,Category" and len(lines) == 41 and result["n"] == 40
    assert result["accuracy"] == r["test"]["test/acc"]  # the same network, the same test images


def test_compare_any_twin_pair_with_ms_per_step(tmp_path, monkeypatch):
    data = make_fashion(tmp_path / "data", n_train=200, n_test=40)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cmp.yaml").write_text(
        f"runs: {{numpy: {ROOT}/configs/fashion_cnn_numpy.yaml, "
        f"torch: {ROOT}/configs/fashion_cnn_torch.yaml}}\nnumpy_nn: false\noutput_dir: out\n"
    )
    monkeypatch.setenv("DATA_DIR", str(data))
    result = compare("cmp.yaml", epochs=1)
    rows = {r["implementation"]: r for r in result["rows"]}
    assert set(rows) == {"Lightning, numpy backend", "Lightning, torch backend"}
    assert all(r["ms_per_step"] > 0 for r in rows.values())
    table = (tmp_path / "out" / "comparison.md").read_text()
    assert "| ms / step |" in table
    assert all(f"{r['ms_per_step']:.2f} |" in table for r in rows.values())
    # the twins validate on the test split: no "val loss" column repeating the test loss
    assert "val loss" not in table and "| final train loss | test loss |" in table
    runs = sorted(p.name for p in (tmp_path / "lightning_logs").iterdir())
    assert runs == ["fashion_cnn_numpy", "fashion_cnn_torch"]


def test_gpu_request_with_numpy_backend_is_one_line(tmp_path):
    for config, extra in (
        ("fashion_cnn_numpy.yaml", []),
        ("fashion_cnn_torch.yaml", ["--model.network.init_args.backend", "numpy"]),
    ):
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "train.py"),
                "--config",
                str(ROOT / "configs" / config),
                *extra,
                "--trainer.accelerator",
                "gpu",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert proc.returncode == 2, proc.stderr[-2000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "runs on the CPU only" in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "lightning_logs").exists()


def _full_run(config, data_dir, tmp_path):
    return train(
        [
            "--config",
            str(ROOT / "configs" / config),
            *QUIET,
            "--data.init_args.data_dir",
            str(data_dir),
            "--trainer.logger.init_args.save_dir",
            str(tmp_path / "logs"),
        ]
    )


@pytest.mark.slow
def test_fashion_cnn_numpy_default_config_reaches_91(fashion_dir, tmp_path):
    r = _full_run("fashion_cnn_numpy.yaml", fashion_dir, tmp_path)
    assert r["test"]["test/acc"] >= 0.91, r["test"]
    assert "fashion_cnn_numpy" in r["log_dir"]


@pytest.mark.slow
def test_cifar_cnn_numpy_default_config_reaches_80(cifar_dir, tmp_path):
    r = _full_run("cifar_cnn_numpy.yaml", cifar_dir, tmp_path)
    assert r["test"]["test/acc"] >= 0.80, r["test"]
    assert "cifar_cnn_numpy" in r["log_dir"]

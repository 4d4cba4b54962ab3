"""predict.py: rows in input order, .npy path == DataModule path, and clear refusals of bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from commands.cli import train
from commands.predict import main as predict_main
from commands.predict import run
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar, make_cifar

TINY_CNN = [
    "--model.network.init_args.widths",
    "[8, 16, 16]",
    "--trainer.max_epochs",
    "1",
    "--data.init_args.batch_size",
    "32",
    "--trainer.precision",
    "32-true",
    "--trainer.enable_progress_bar",
    "false",
]


@pytest.fixture
def cifar_ckpt(tmp_path, monkeypatch):
    accept_fake_cifar(monkeypatch)
    data = make_cifar(tmp_path / "data")
    r = train(
        [
            "--config",
            str(ROOT / "configs/cifar_cnn.yaml"),
            *TINY_CNN,
            "--data.init_args.data_dir",
            str(data),
            "--trainer.logger.init_args.save_dir",
            str(tmp_path / "logs"),
        ]
    )
    return r["best_checkpoint"], data


def _read(path):
    lines = open(path).read().splitlines()
    assert lines[0] == "Id,Category"
    rows = [tuple(map(int, line.split(","))) for line in lines[1:]]
    assert [i for i, _ in rows] == list(range(1, len(rows) + 1))
    assert all(0 <= c <= 9 for _, c in rows)
    return np.array([c for _, c in rows])


def test_npy_path_equals_datamodule_path_in_every_layout(cifar_ckpt, tmp_path):
    ckpt, data = cifar_ckpt
    reference = run(ckpt, None, str(tmp_path / "ref.csv"), data_dir=str(data))
    expected = _read(tmp_path / "ref.csv")
    import pickle

    with open(data / "cifar-10-batches-py" / "test_batch", "rb") as f:
        batch = pickle.load(f)
    rows = batch["data"]  # (30, 3072) channel-planar, as the course's file
    assert reference["n"] == 30
    assert reference["accuracy"] == np.mean(expected == np.array(batch["labels"]))
    layouts = {
        "rows": rows,
        "nchw": rows.reshape(-1, 3, 32, 32),
        "nhwc": rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1),
    }
    for name, arr in layouts.items():
        np.save(tmp_path / f"{name}.npy", arr)
        out = tmp_path / f"{name}.csv"
        assert (
            predict_main(
                ["--ckpt", ckpt, "--input", str(tmp_path / f"{name}.npy"), "--output", str(out)]
            )
            == 0
        )
        np.testing.assert_array_equal(_read(out), expected, err_msg=name)
    # input order is kept: reversing the images reverses the predictions
    np.save(tmp_path / "rev.npy", rows[::-1].copy())
    predict_main(
        [
            "--ckpt",
            ckpt,
            "--input",
            str(tmp_path / "rev.npy"),
            "--output",
            str(tmp_path / "rev.csv"),
        ]
    )
    np.testing.assert_array_equal(_read(tmp_path / "rev.csv"), expected[::-1])


def test_checkpoint_alone_is_enough(cifar_ckpt):
    ckpt, _ = cifar_ckpt
    state = torch.load(ckpt, weights_only=True)
    assert state["CIFAR10DataModule"]["mean"] and state["hyper_parameters"]["network"]["class_path"]


def test_predict_runs_at_the_precision_the_run_was_tested_at(monkeypatch):
    from commands import predict

    monkeypatch.setattr(predict, "auto_precision", lambda accelerator: ("bf16-mixed", "native"))
    assert predict.cpu_precision("bf16-mixed") == "bf16-mixed"
    assert predict.cpu_precision("32-true") == "32-true"
    assert predict.cpu_precision(None) == "bf16-mixed"  # an older checkpoint: the CPU's choice
    monkeypatch.setattr(predict, "auto_precision", lambda accelerator: ("32-true", "emulated"))
    assert predict.cpu_precision("bf16-mixed") == "32-true"  # no emulated bf16 (2.6-16x slower)


def test_printed_accuracy_is_the_test_accuracy(fashion_dir, tmp_path):
    """A Fashion-MNIST run tested on all 10,000 test images: predict.py prints its test accuracy
    to the digits it prints (the same precision, the same images, the same weights)."""
    import json

    r = train(
        [
            "--config",
            str(ROOT / "configs/fashion_mlp.yaml"),
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "20",
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.data_dir",
            str(fashion_dir),
            "--trainer.logger.init_args.save_dir",
            str(tmp_path),
        ]
    )
    tested = json.loads((Path(r["log_dir"]) / "test_metrics.json").read_text())["test/acc"]
    ckpt = Path(r["log_dir"]) / "checkpoints" / "last.ckpt"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "predict.py"),
            "--ckpt",
            str(ckpt),
            "--output",
            str(tmp_path / "p.csv"),
            "--data_dir",
            str(fashion_dir),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"accuracy on the labeled test split: {tested:.4f}" in done.stdout, (tested, done.stdout)
    # as quiet as train.py: no Lightning tips, deprecation warnings or "GPU available" banner
    said = (done.stdout + done.stderr).splitlines()
    assert len(said) == 2 and said[0].startswith("wrote "), said


@pytest.mark.parametrize("datamodule", ["FashionMNISTDataModule", "CIFAR10DataModule"])
def test_readme_says_what_input_each_dataset_takes(datamodule, tmp_path):
    from commands.predict import formats, input_shapes, load_images
    from lightning_hw import datamodules

    shape = getattr(datamodules, datamodule).image_shape
    name = {"FashionMNISTDataModule": "Fashion-MNIST", "CIFAR10DataModule": "CIFAR-10"}[datamodule]
    rows = [
        r
        for r in (ROOT / "docs" / "self-learners.md").read_text().splitlines()
        if r.startswith(f"| {name} (")
    ]
    assert len(rows) == 1 and rows[0].split(" | ")[1].rstrip(" |") == formats(shape), rows
    for dims in input_shapes(shape):  # each one README names is read
        np.save(tmp_path / "x.npy", np.zeros((2, *dims), np.uint8))
        assert load_images(str(tmp_path / "x.npy"), shape).shape == (2, *shape)

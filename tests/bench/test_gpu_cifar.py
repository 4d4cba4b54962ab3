"""bench.recipe builds what LightningCLI builds from a config; bench.gpu_cifar packs CIFAR-10 for a
GPU machine in pieces, joins them byte for byte, and times warm-up plus runs (here on the CPU)."""

import json
import subprocess
import sys

import pytest
import torch

from bench import gpu_cifar, recipe
from commands.cli import CLI, resolve_config
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar, make_cifar, make_fashion


def _without_cli_marks(hparams) -> dict:
    """LightningCLI adds how it built the object (``_instantiator``, ``_class_path``)."""
    return {k: v for k, v in hparams.items() if k not in ("_instantiator", "_class_path")}


@pytest.mark.parametrize("config", ["cifar_cnn.yaml", "fashion_mlp.yaml"])
def test_recipe_builds_what_train_py_builds(config, tmp_path, monkeypatch):
    path = str(ROOT / "configs" / config)
    accept_fake_cifar(monkeypatch)  # train.py's CLI looks for the data before building the Trainer
    data = make_cifar(tmp_path) if config.startswith("cifar") else make_fashion(tmp_path)
    quiet = ["--trainer.logger", "false", "--data.init_args.data_dir", str(data)]
    cli = CLI(["--config", path, *quiet])
    resolved = resolve_config(path, *quiet)

    torch.manual_seed(0)
    ours = recipe.classifier(resolved)
    torch.manual_seed(0)
    theirs = CLI(["--config", path, *quiet]).model  # the same seed, the same initial weights
    assert dict(ours.hparams) == _without_cli_marks(theirs.hparams)
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    opt_a, opt_b = ours.optimizer(ours.parameters()), theirs.optimizer(theirs.parameters())
    assert type(opt_a) is type(opt_b) and opt_a.defaults == opt_b.defaults
    if theirs.lr_scheduler is not None:
        a, b = ours.lr_scheduler(opt_a, total_steps=10), theirs.lr_scheduler(opt_b, total_steps=10)
        assert type(a) is type(b) and a.state_dict() == b.state_dict()

    dm = recipe.datamodule(resolved)
    assert type(dm) is type(cli.datamodule)
    assert dict(dm.hparams) == _without_cli_marks(cli.datamodule.hparams)
    ours_cb = recipe.callbacks(resolved)
    theirs_cb = [c for c in cli.trainer.callbacks if type(c).__module__ == "lightning_hw.callbacks"]
    theirs_cb = [c for c in theirs_cb if type(c).__name__ in {type(o).__name__ for o in ours_cb}]
    assert [(type(c), vars(c)) for c in ours_cb] == [(type(c), vars(c)) for c in theirs_cb]
    assert recipe.precision(resolved) == cli.trainer.precision


def test_pack_joins_byte_for_byte_and_times_runs_on_the_cpu(tmp_path, monkeypatch):
    data = make_cifar(tmp_path / "data", per_batch=40, n_test=30)
    pack = tmp_path / "pack"
    small = [
        "--data.init_args.batch_size",
        "32",
        "--data.init_args.eval_batch_size",
        "50",
        "--model.network.init_args.widths",
        "[8, 16, 16]",
        "--trainer.max_epochs",
        "2",
    ]
    assert (
        gpu_cifar.main(
            [
                "pack",
                "--config",
                str(ROOT / "configs" / "cifar_cnn94.yaml"),
                "--data_dir",
                str(data),
                "--out",
                str(pack),
                "--piece_mib",
                "0.1",
                "--",
                *small,
            ]
        )
        == 0
    )
    manifest = json.loads((pack / "manifest.json").read_text())
    assert len(manifest["pieces"]) >= 3  # a 0.1 MiB piece size: the folder is cut in several
    assert all((pack / p).stat().st_size <= 0.1 * 2**20 for p in manifest["pieces"])

    accept_fake_cifar(monkeypatch)
    out = tmp_path / "out"
    joined = tmp_path / "joined"
    args = [
        "time",
        "--pack",
        str(pack),
        "--data_dir",
        str(joined),
        "--runs",
        "2",
        "--warmup_steps",
        "1",
        "--out",
        str(out),
    ]
    assert gpu_cifar.main(args) == 0
    for f in (data / gpu_cifar.FOLDER).iterdir():
        assert (joined / gpu_cifar.FOLDER / f.name).read_bytes() == f.read_bytes()
    result = json.loads((out / "gpu_cifar.json").read_text())
    assert result["config"] == "configs/cifar_cnn94.yaml" and result["device"] == "CPU"
    assert result["epochs"] == 2 and len(result["runs"]) == 2
    assert all(0 <= r["acc"] <= 1 and r["seconds"] > 0 for r in result["runs"])
    table = (out / "gpu_cifar.md").read_text()
    assert f"| 1 | {result['runs'][1]['acc']:.4f} |" in table

    (pack / manifest["pieces"][1]).unlink()  # a piece left behind: one line, exit status 2
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.gpu_cifar",
            "time",
            "--pack",
            str(pack),
            "--data_dir",
            str(tmp_path / "again"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {manifest['pieces'][1]} missing in {pack}: carry every piece\n"

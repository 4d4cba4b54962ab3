"""lightning_hw.runs: where runs live, which is the latest finished one, what resuming finds."""

import json
import os
from pathlib import Path

from lightning_hw import runs


def _run(logs, experiment, version, finished=True, last=True, age=0):
    run = logs / experiment / f"{runs.VERSION}{version}"
    (run / runs.CHECKPOINTS).mkdir(parents=True)
    if finished:
        (run / "metrics.json").write_text("{}")
        (run / runs.FINISHED).write_text("{}")
    if last:
        runs.last_checkpoint(run).write_bytes(b"x")
    for path in (run, runs.last_checkpoint(run)):
        if path.exists():
            os.utime(path, (1000 + age, 1000 + age))
    return run


def test_the_latest_finished_run_of_exact_names(tmp_path):
    old = _run(tmp_path, "cifar_cnn", 0, age=1)
    _run(tmp_path, "cifar_cnn", 1, finished=False, age=3)  # newer, but never tested
    longer = _run(tmp_path, "cifar_cnn94", 0, age=2)
    _run(tmp_path, "cifar_cnn_numpy", 0, age=9)  # another experiment: never stands in
    assert runs.latest_finished(tmp_path, ["cifar_cnn"]) == old
    assert runs.latest_finished(tmp_path, ["cifar_cnn", "cifar_cnn94"]) == longer
    assert runs.latest_finished(tmp_path, ["fashion_mlp"]) is None
    assert runs.runs(tmp_path, "cifar_cnn") == [old, tmp_path / "cifar_cnn" / "version_1"]


def test_resuming_finds_the_newest_last_checkpoint_and_its_run(tmp_path):
    _run(tmp_path, "iris_numpy", 0, age=1)
    newest = _run(tmp_path, "iris_numpy", 1, finished=False, age=2)
    _run(tmp_path, "iris_numpy", 2, last=False, age=3)
    found = runs.newest_last_checkpoint(tmp_path, "iris_numpy")
    assert found == runs.last_checkpoint(newest)
    assert runs.run_of(found, tmp_path, "iris_numpy") == "version_1"
    assert runs.run_of(found, tmp_path, "iris_torch") is None  # another experiment's run
    assert runs.run_of(tmp_path / "elsewhere.ckpt", tmp_path, "iris_numpy") is None
    assert runs.newest_last_checkpoint(tmp_path, "nothing") is None


def test_an_unfinished_run_without_checkpoints_is_removed_with_empty_parents(tmp_path):
    logs = tmp_path / "logs"
    kept = _run(logs, "a", 0, finished=False)  # it saved a checkpoint: kept
    runs.remove_unfinished(kept)
    assert kept.is_dir()
    bare = _run(logs, "b", 0, finished=False, last=False)
    runs.remove_unfinished(bare)
    assert not (logs / "b").exists() and logs.is_dir()  # logs still holds a/
    only = _run(tmp_path / "solo", "c", 0, finished=False, last=False)
    runs.remove_unfinished(only)
    assert not (tmp_path / "solo").exists()


def test_a_run_validating_every_other_epoch_records_only_real_validations(tmp_path):
    """check_val_every_n_epoch 2: metrics.json holds the validations that ran and after which
    epochs (not the last one repeated), the run is whole, the curves are drawn at those epochs,
    and the benchmarks' time to an accuracy counts the epochs in between."""
    from bench.accuracy import _time_to
    from commands.cli import train
    from tests.conftest import ROOT

    r = train(
        [
            "--config",
            str(ROOT / "configs" / "iris_numpy.yaml"),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger.init_args.save_dir",
            str(tmp_path),
            "--trainer.max_epochs",
            "5",
            "--trainer.check_val_every_n_epoch",
            "2",
        ]
    )
    run = Path(r["log_dir"])
    h = json.loads((run / "metrics.json").read_text())
    assert h["val_epochs"] == [2, 4] and len(h["val/acc"]) == 2 and len(h["train/loss"]) == 5
    assert "short" not in h and not runs.is_short(run) and runs.epochs(run) == 4
    assert (run / "accuracy.png").stat().st_size > 10_000
    h["val/acc"], h["seconds"] = [0.5, 0.9], [1.0] * 5
    assert _time_to(h, 0.8) == 4.0  # epochs 1-4, validated after the 4th


def test_histories_from_before_val_epochs_validated_every_epoch(tmp_path):
    old = {"train/loss": [1.0, 0.5], "val/loss": [1.1, 0.6], "val/acc": [0.3, 0.6]}
    assert runs.val_epochs(old) == [1, 2] and runs.trained_epochs(old) == 2
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({**old, "val/loss": [1.1]}))
    assert runs.is_short(run)  # an older run whose curves differ in length stopped early

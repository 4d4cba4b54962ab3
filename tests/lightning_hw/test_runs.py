"""lightning_hw.runs: where runs live, which is the latest finished one, what resuming finds."""

import os

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

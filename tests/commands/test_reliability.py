"""Clear errors for bad input, resuming after a crash, reproducibility, NaN stops, DDP (slow)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT
from tests.lightning_hw.fake_data import make_cifar
from tests.lightning_hw.test_board import run_notes

IRIS = str(ROOT / "configs/iris_numpy.yaml")


def _as_from_a_terminal():
    """Ctrl+C's default action, as a terminal gives it: a shell starts a background job (CI
    launched with ``&``) with SIGINT ignored, which its children inherit, and Python then leaves
    it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _train(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        preexec_fn=_as_from_a_terminal,
    )


def _one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in errors[0], errors[0]


def _history(run_root: Path, experiment: str = "iris_numpy"):
    (version,) = sorted((run_root / "lightning_logs" / experiment).glob("version_*"))
    h = json.loads((version / "metrics.json").read_text())
    h.pop("seconds"), h.pop("step_ms")  # wall times
    return h, json.loads((version / "test_metrics.json").read_text())


def _kill_and_resume(tmp_path, common, experiment, kill_after, resume_with="last", signal=None):
    """Train once whole; train again, SIGKILLed (or sent ``signal``: SIGTERM, SIGINT) when epoch
    ``kill_after`` (0-based) is saved, then resume. Returns both runs' curves and test metrics."""
    whole, crashed = tmp_path / "whole", tmp_path / "crashed"
    whole.mkdir(), crashed.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the test helpers' callbacks
    done = _train(*common, cwd=whole, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    kill = [
        "--trainer.callbacks+=tests.commands.helpers.KillAfterEpoch",
        f"--trainer.callbacks.epoch={kill_after}",
    ]
    if signal:
        kill = [
            "--trainer.callbacks+=tests.commands.helpers.SignalAfterEpoch",
            f"--trainer.callbacks.epoch={kill_after}",
            f"--trainer.callbacks.signal_name={signal}",
        ]
    killed = _train(*common, *kill, cwd=crashed, env=env)
    if signal:
        _stopped_by(killed, signal, crashed / "lightning_logs" / experiment, kill_after)
    else:
        assert killed.returncode == -9, killed.stderr[-2000:]
    last = crashed / "lightning_logs" / experiment / "version_0" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == kill_after
    ckpt = str(last.resolve()) if resume_with == "absolute" else "last"
    resumed = _train(*common, "--ckpt_path", ckpt, cwd=crashed, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    return _history(crashed, experiment), _history(whole, experiment)


def _stopped_by(proc, signal_name: str, experiment_dir: Path, epochs_done: int) -> None:
    """SIGTERM/SIGINT: the shell's status (143/130), one error line saying how to continue, no
    traceback, and the finished epochs' curves written (marked interrupted)."""
    assert proc.returncode == {"SIGTERM": 143, "SIGINT": 130}[signal_name], proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"stopped by {signal_name}" in errors[0] and "--ckpt_path last" in errors[0], errors
    metrics = json.loads((experiment_dir / "version_0" / "metrics.json").read_text())
    assert metrics["interrupted"] is True and len(metrics["train/loss"]) == epochs_done + 1
    (note,) = run_notes(experiment_dir / "version_0")  # TensorBoard's Text tab says so too
    assert note.startswith(f"**interrupted** after {epochs_done + 1} finished epochs"), note


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_run_with_its_status_and_resume_is_exact(signal_name, tmp_path):
    """kill (SLURM's time limit, timeout, CI) and Ctrl+C: non-zero status, curves kept, and
    --ckpt_path last continues as if nothing happened."""
    common = [
        "--config",
        IRIS,
        "--trainer.max_epochs",
        "8",
        "--trainer.enable_progress_bar",
        "false",
    ]
    resumed, whole = _kill_and_resume(tmp_path, common, "iris_numpy", 3, signal=signal_name)
    assert resumed == whole
    run = tmp_path / "crashed" / "lightning_logs" / "iris_numpy" / "version_0"
    assert run_notes(run)[1] == "resumed after 4 finished epochs"


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    """Iris, resumed from an absolute checkpoint path: into its own version_0, as 'last' does."""
    common = [
        "--config",
        IRIS,
        "--trainer.max_epochs",
        "12",
        "--trainer.enable_progress_bar",
        "false",
    ]
    resumed, whole = _kill_and_resume(tmp_path, common, "iris_numpy", 4, resume_with="absolute")
    assert resumed == whole


def test_fashion_resumed_after_sigkill_ends_identical(fashion_dir, tmp_path):
    """The Fashion config for 3 epochs, killed after epoch 1: same batches, same dropout masks."""
    common = [
        "--config",
        str(ROOT / "configs/fashion_mlp.yaml"),
        "--trainer.max_epochs",
        "3",
        "--data.init_args.data_dir",
        str(fashion_dir),
        "--trainer.enable_progress_bar",
        "false",
    ]
    resumed, whole = _kill_and_resume(tmp_path, common, "fashion_mlp", 1)
    assert resumed == whole
    assert whole[1]["test/acc"] > 0.85  # it trained


def test_augmented_cifar_resumed_after_sigkill_ends_identical(tmp_path):
    """Alternating flips, translations, whitening and Lookahead: a tiny CNN on fake CIFAR files."""
    data = make_cifar(tmp_path / "data")
    common = [
        "--config",
        str(ROOT / "configs/cifar_cnn.yaml"),
        "--trainer.max_epochs",
        "3",
        "--model.network.init_args.widths",
        "[8, 8, 8]",
        "--trainer.precision",
        "32-true",
        "--trainer.deterministic",
        "true",
        "--data.init_args.batch_size",
        "16",
        "--data.init_args.data_dir",
        str(data),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.callbacks+=tests.commands.helpers.AcceptFakeCifar",
        "--trainer.callbacks+=lightning_hw.callbacks.Lookahead",
    ]
    resumed, whole = _kill_and_resume(tmp_path, common, "cifar_cnn", 1)
    assert resumed == whole


def test_same_seed_same_numbers_iris(tmp_path):
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        assert (
            _train(
                "--config",
                IRIS,
                "--trainer.max_epochs",
                "5",
                "--trainer.enable_progress_bar",
                "false",
                cwd=tmp_path / name,
            ).returncode
            == 0
        )
        runs.append(_history(tmp_path / name))
    assert runs[0] == runs[1]


def test_same_seed_same_numbers_fashion(fashion_dir, tmp_path):
    from commands.cli import train

    def once(d):
        r = train(
            [
                "--config",
                str(ROOT / "configs/fashion_mlp.yaml"),
                "--trainer.max_epochs",
                "2",
                "--trainer.limit_train_batches",
                "10",
                "--trainer.limit_val_batches",
                "2",
                "--trainer.limit_test_batches",
                "2",
                "--trainer.enable_progress_bar",
                "false",
                "--data.init_args.data_dir",
                str(fashion_dir),
                "--trainer.logger.init_args.save_dir",
                str(tmp_path / d),
            ]
        )
        h = dict(r["history"])
        h.pop("seconds"), h.pop("step_ms")  # wall times
        return h, r["test"]

    assert once("a") == once("b")


def _recorded_steps(tmp_path, name, args, devices):
    """Train with RecordSteps in a subprocess; the steps each rank recorded."""
    out = tmp_path / name
    out.mkdir()
    ddp = ["--config", str(ROOT / "configs/trainer/ddp.yaml")] if devices == 2 else []
    proc = _train(
        *args,
        *ddp,
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.callbacks+=tests.commands.helpers.RecordSteps",
        f"--trainer.callbacks.out_dir={out}",
        cwd=out,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(devices)]


def _check_ddp(single, ranks, n_train, compare_steps):
    """Sharding: in every epoch the two ranks saw disjoint halves that together cover the
    training set (DistributedSampler pads with at most one repeated example). Averaging: both
    ranks hold the same parameters after every step. Equivalence: 2 processes at half the batch
    give 1 process's loss (the mean of the two halves) over the first steps."""
    from collections import Counter

    r0, r1 = ranks
    assert len(r0) == len(r1) >= compare_steps
    for epoch in sorted({s["epoch"] for s in r0}):
        seen = [Counter(x for s in r if s["epoch"] == epoch for x in s["examples"]) for r in ranks]
        everything = Counter(x for s in single if s["epoch"] == epoch for x in s["examples"])
        if sum(everything.values()) == n_train:  # the single run covered the whole epoch
            assert not everything - (seen[0] + seen[1])  # every example was seen by a rank
            assert sum(((seen[0] + seen[1]) - everything).values()) <= 1  # at most the padding
        assert sum(seen[0].values()) == sum(seen[1].values())
    assert [s["params"] for s in r0] == [s["params"] for s in r1]
    for k in range(compare_steps):
        assert sorted(r0[k]["examples"] + r1[k]["examples"]) == sorted(single[k]["examples"])
        assert abs((r0[k]["loss"] + r1[k]["loss"]) / 2 - single[k]["loss"]) < 1e-6, k


def test_ddp_shards_and_averages_numpy_backed_iris(tmp_path):
    """The numpy-backed Iris network in float64: its numpy gradients are averaged by DDP too."""
    common = [
        "--config",
        IRIS,
        "--trainer.max_epochs",
        "2",
        "--model.network.init_args.dtype",
        "float64",
    ]
    (single,) = _recorded_steps(tmp_path, "one", [*common, "--data.init_args.batch_size", "16"], 1)
    ranks = _recorded_steps(tmp_path, "two", [*common, "--data.init_args.batch_size", "8"], 2)
    _check_ddp(single, ranks, n_train=105, compare_steps=6)  # 105 = 6 x 16 + 9


@pytest.mark.slow
def test_ddp_shards_and_averages_fashion_mlp(fashion_dir, tmp_path):
    common = [
        "--config",
        str(ROOT / "configs/fashion_mlp.yaml"),
        "--trainer.max_epochs",
        "1",
        "--data.init_args.data_dir",
        str(fashion_dir),
        "--trainer.precision",
        "64-true",
        "--model.network.init_args.dropout",
        "0",
        "--trainer.limit_train_batches",
        "8",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.limit_test_batches",
        "1",
    ]
    (single,) = _recorded_steps(tmp_path, "one", [*common, "--data.init_args.batch_size", "512"], 1)
    ranks = _recorded_steps(tmp_path, "two", [*common, "--data.init_args.batch_size", "256"], 2)
    _check_ddp(single, ranks, n_train=60000, compare_steps=8)


@pytest.mark.slow
@pytest.mark.parametrize(
    "config, batch, target",
    [
        ("iris_numpy.yaml", 8, 0.86),  # single process: 0.900 on the course split; 1 of 30 = 0.033
        ("fashion_mlp.yaml", 128, 0.90),  # single process: 0.9109 (2 x 128 = 256)
    ],
)
def test_ddp_two_processes_reach_single_process_accuracy(config, batch, target, tmp_path, request):
    data_args = ["--data.init_args.batch_size", str(batch)]
    if "fashion" in config:
        data_args += ["--data.init_args.data_dir", str(request.getfixturevalue("fashion_dir"))]
    proc = _train(
        "--config",
        str(ROOT / "configs" / config),
        "--config",
        str(ROOT / "configs/trainer/ddp.yaml"),
        "--trainer.enable_progress_bar",
        "false",
        *data_args,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (metrics,) = tmp_path.glob("lightning_logs/*/version_*/test_metrics.json")
    assert json.loads(metrics.read_text())["test/acc"] >= target


def test_runs_started_together_get_distinct_versions(tmp_path):
    """8 train.py processes into one save_dir at once: 8 version folders, each a whole run."""
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "--config",
        IRIS,
        "--trainer.max_epochs",
        "1",
        "--trainer.enable_progress_bar",
        "false",
    ]
    procs = [
        subprocess.Popen(
            args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    versions = sorted((tmp_path / "lightning_logs" / "iris_numpy").iterdir())
    assert [v.name for v in versions] == [f"version_{i}" for i in range(8)]
    assert all((v / "test_metrics.json").is_file() for v in versions)
    assert all(len(list(v.glob("events.out.tfevents.*"))) >= 1 for v in versions)


def test_a_refused_resume_leaves_the_run_as_it_was(tmp_path):
    """Resuming with a setting Lightning refuses while fitting: one line, exit 2, and not one
    file of the run it was resuming is added or changed."""
    common = [
        "--config",
        IRIS,
        "--trainer.max_epochs",
        "3",
        "--trainer.enable_progress_bar",
        "false",
    ]
    assert _train(*common, cwd=tmp_path).returncode == 0
    run = tmp_path / "lightning_logs" / "iris_numpy" / "version_0"
    before = {p: p.stat().st_mtime for p in run.rglob("*")}
    refused = _train(
        "--config",
        IRIS,
        "--trainer.max_epochs",
        "6",
        "--ckpt_path",
        "last",
        "--trainer.val_check_interval",
        "1000",
        cwd=tmp_path,
    )
    _one_line_error(refused, "`val_check_interval` (1000)")
    assert {p: p.stat().st_mtime for p in run.rglob("*")} == before

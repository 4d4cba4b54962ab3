"""deliverables/handin.py (make handin): every step in order, what is done skipped."""

import os
import re
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from deliverables import handin
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar


def test_a_draft_hand_in_skips_what_is_done_and_builds_the_rest(
    tiny_runs, tmp_path, capfd, monkeypatch, recwarn
):
    _, experiments, logs = tiny_runs  # the Iris runs, the comparison and 1-epoch vision runs
    accept_fake_cifar(monkeypatch)
    out = tmp_path / "hand-in"
    argv = [
        "--draft",
        "--experiments",
        str(experiments),
        "--logs",
        str(logs),
        "--answers",
        str(tmp_path / "answers.md"),
        "--student",
        str(tmp_path / "none.yaml"),
        "--report",
        str(out / "report"),
        "--output",
        str(out / "hw3.zip"),
    ]
    assert handin.main(argv) == 0
    captured = capfd.readouterr()  # the notebook kernels' output too
    lines = captured.out.splitlines()
    # no notices that look like the student's fault: Lightning's, Jupyter's
    noise = ("WARNING", "Warning:", "deprecated", "Tip:", "litlogger")
    assert not [x for x in (captured.out + captured.err).splitlines() if any(n in x for n in noise)]
    assert not [w for w in recwarn if "lightning" in w.filename.lower()], [
        str(w.message) for w in recwarn
    ]
    progress = [line for line in lines if re.match(r"\[\d/\d\] ", line)]
    skipped = [line.split(":")[0] for line in progress if "done already, skipped" in line]
    assert skipped == [
        "[1/7] Iris, the default network",
        "[2/7] Iris, the lr x hidden sweep",
        "[3/7] Iris, three ways (an extra)",
        "[4/7] Fashion-MNIST MLP",
        "[5/7] CIFAR-10 CNN",
    ]
    assert [line.split(":")[0] for line in progress if ": done in " in line] == [
        "[6/7] the report",
        "[7/7] hw3.zip",
    ]
    assert re.match(r"draft hand-in ready in \d+ (min \d\d )?s: ", lines[-1]), lines[-1]
    assert "DRAFT" in (out / "report" / "report.md").read_text()
    assert "hw3/README" in zipfile.ZipFile(out / "hw3.zip").namelist()
    assert (tmp_path / "answers.md").exists()


def test_a_final_hand_in_without_a_name_stops_before_any_work(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "deliverables.handin", "--student", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "no name for the cover page" in done.stderr and "student.example.yaml" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def _args(tmp_path, *extra):
    return handin.build_parser().parse_args(
        [
            "--experiments",
            str(tmp_path / "experiments"),
            "--logs",
            str(tmp_path / "logs"),
            "--student",
            str(tmp_path / "none.yaml"),
            "--report",
            str(tmp_path / "report"),
            "--output",
            str(tmp_path / "hw3.zip"),
            *extra,
        ]
    )


def test_a_draft_trains_each_missing_run_briefly_and_says_so(tmp_path):
    trains = [
        s for s in handin.steps(_args(tmp_path, "--draft")) if "train.py --config" in s.command
    ]
    assert [s.title for s in trains] == ["Fashion-MNIST MLP", "CIFAR-10 CNN"]
    for step in trains:
        assert step.command.endswith(" --trainer.max_epochs 1"), step.command
        assert "a draft trains 1 epoch only; a final make handin trains the full run" in step.note
    final = [s for s in handin.steps(_args(tmp_path)) if "train.py --config" in s.command]
    assert [s.command for s in final] == [
        "python train.py --config configs/fashion_mlp.yaml",
        "python train.py --config configs/cifar_cnn.yaml",
    ]


def test_a_final_hand_in_continues_an_interrupted_run(tmp_path):
    run = tmp_path / "logs" / "fashion_mlp" / "version_0"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")  # no test_metrics.json: unfinished
    step = next(s for s in handin.steps(_args(tmp_path)) if s.title == "Fashion-MNIST MLP")
    assert step.command.endswith(" --ckpt_path last") and "continuing" in step.note
    (run / "test_metrics.json").write_text("{}")
    (run / "metrics.json").write_text("{}")
    step = next(s for s in handin.steps(_args(tmp_path)) if s.title == "Fashion-MNIST MLP")
    assert "--ckpt_path" not in step.command  # finished: nothing to continue


@pytest.mark.parametrize("how", ["status 143", "SIGTERM", "Ctrl-C"])
def test_an_interrupted_step_says_how_to_continue(tmp_path, monkeypatch, capsys, how):
    def stopped():
        if how == "SIGTERM":
            os.kill(os.getpid(), signal.SIGTERM)  # outside Lightning: the hand-in's own handler
            time.sleep(5)
        if how == "Ctrl-C":
            raise KeyboardInterrupt
        return 143  # what train.py returns when Lightning stopped the run on SIGTERM

    todo = [handin.Step("Fashion-MNIST MLP", "python train.py ...", lambda: False, stopped)]
    monkeypatch.setattr(handin, "steps", lambda args: todo)
    monkeypatch.setattr(handin, "preflight", lambda args: None)
    before = signal.getsignal(signal.SIGTERM)
    try:
        status = handin.hand_in(_args(tmp_path))
    finally:
        signal.signal(signal.SIGTERM, before)
    err = capsys.readouterr().err
    assert status in (130, 143)
    assert err.startswith("[1/1] Fashion-MNIST MLP: interrupted; run make handin again to continue")
    assert "failed" not in err and err.count("\n") == 1

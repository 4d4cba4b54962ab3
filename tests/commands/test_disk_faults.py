"""The commands on a full disk (a small tmpfs) and a read-only folder, mounted by bubblewrap:
one line naming the path and the cause, exit status 2, no traceback, nothing half-written."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, find_data_dir

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap not installed: apt-get install bubblewrap"
)
MOUNT = "/tmp/nn-disk-fault"  # inside the sandbox only: a tmpfs or a read-only bind
QUICK = [
    "--trainer.max_epochs",
    "1",
    "--trainer.limit_train_batches",
    "3",
    "--trainer.limit_val_batches",
    "2",
    "--trainer.enable_progress_bar",
    "false",
]


def in_sandbox(mount: list[str], command: list[str], listing: bool = True):
    """Run ``command`` with ``MOUNT`` set up by ``mount``; return its result and what is left
    under MOUNT afterwards (a listing made inside, before the tmpfs goes away)."""
    os.makedirs(MOUNT, exist_ok=True)
    script = '"$@"; rc=$?; find "$MOUNT" -mindepth 1 >&3; exit $rc'
    r = subprocess.run(
        [
            "bwrap",
            "--dev-bind",
            "/",
            "/",
            *mount,
            "--",
            "sh",
            "-c",
            f"exec 3>{MOUNT}.left; " + script.replace("$MOUNT", MOUNT),
            "sh",
            *command,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DATA_DIR": str(find_data_dir("FashionMNIST") or "")},
    )
    return r


def full_disk(size: int) -> list[str]:
    return ["--size", str(size), "--tmpfs", MOUNT]


def read_only(tmp_path) -> list[str]:
    return ["--ro-bind", str(tmp_path), MOUNT]


def one_line(r, *expected: str) -> None:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot write"), r.stderr
    for text in expected:
        assert text in last, last


def left_behind() -> list[str]:
    with open(f"{MOUNT}.left") as f:
        return f.read().split()


def test_a_full_disk_while_checkpointing_leaves_no_truncated_checkpoint(fashion_dir):
    r = in_sandbox(
        full_disk(2 << 20),
        [
            sys.executable,
            "train.py",
            "--config",
            "configs/fashion_mlp.yaml",
            *QUICK,
            "--trainer.logger.init_args.save_dir",
            f"{MOUNT}/logs",
        ],
    )
    one_line(r, "best-epoch000.ckpt", "the disk is full")
    assert left_behind() == []  # not a truncated checkpoint, not an empty run folder


def test_a_read_only_save_dir_is_one_line(fashion_dir, tmp_path):
    r = in_sandbox(
        read_only(tmp_path),
        [
            sys.executable,
            "train.py",
            "--config",
            "configs/fashion_mlp.yaml",
            *QUICK,
            "--trainer.logger.init_args.save_dir",
            f"{MOUNT}/logs",
        ],
    )
    one_line(r, f"{MOUNT}/logs", "read-only")
    assert list(tmp_path.iterdir()) == []


def test_predict_refuses_a_read_only_output_before_anything_else(tmp_path):
    # the checkpoint does not exist: the output is checked first, before reading it
    r = in_sandbox(
        read_only(tmp_path),
        [
            sys.executable,
            "predict.py",
            "--ckpt",
            "missing.ckpt",
            "--output",
            f"{MOUNT}/predictions.csv",
        ],
    )
    one_line(r, f"{MOUNT}/predictions.csv", "read-only")


def test_train_ffnn_on_a_full_disk_leaves_no_run_folder_without_results():
    r = in_sandbox(
        full_disk(20 << 10),
        [
            sys.executable,
            "train_ffnn.py",
            "--save-dir",
            f"{MOUNT}/exp",
            "--epochs",
            "2",
            "--no-progress",
        ],
    )
    one_line(r, f"{MOUNT}/exp/iris_", "the disk is full")
    assert left_behind() == []


def test_the_report_on_a_full_disk_leaves_no_part_of_it():
    r = in_sandbox(
        full_disk(1 << 20),
        [
            sys.executable,
            "-m",
            "deliverables.report",
            "--output",
            f"{MOUNT}/report",
            "--draft",
            "--allow-missing",
        ],
    )
    one_line(r, f"{MOUNT}/report/", "the disk is full")
    assert left_behind() == []

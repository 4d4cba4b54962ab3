"""``python -m grading batch``: Gradescope's export of a course, one CSV row per submission,
one column per piece, the students named from the metadata; a broken submission is a row with
its reason, never a stop."""

import csv
import subprocess
import sys

from grading import starter
from tests.conftest import ROOT
from tests.grading.test_attacks import _student

METADATA = """submission_1:
  :submitters:
  - :name: Ada Lovelace
    :sid: '3031'
    :email: ada@example.edu
submission_2:
  :submitters:
  - :name: Alan Turing
    :sid: '3032'
    :email: alan@example.edu
"""


def test_a_course_export_becomes_one_row_per_submission(tmp_path):
    export = tmp_path / "export"
    _student(export / "submission_1")  # the reference: every point
    starter.package(export / "submission_2")  # the starter: none
    (export / "submission_3").mkdir()
    (export / "submission_3" / "hw3.zip").write_bytes(b"not a zip")
    (export / "submission_metadata.yml").write_text(METADATA)
    out = tmp_path / "grades.csv"
    done = subprocess.run(
        [sys.executable, "-m", "grading", "batch", str(export), "--csv", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader(out.open()))
    by = {r["submission"]: r for r in rows}
    assert set(by) == {"submission_1", "submission_2", "submission_3"}
    assert by["submission_1"]["name"] == "Ada Lovelace" and by["submission_1"]["sid"] == "3031"
    assert by["submission_1"]["score"] == by["submission_1"]["total"] == "100"
    assert by["submission_2"]["score"] == "0" and by["submission_2"]["activations.ReLU"] == "0"
    assert by["submission_1"]["layers.FullyConnected"] == "15" and by["submission_1"]["sandbox"]
    assert (
        "not a zip archive" in by["submission_3"]["reason"] and by["submission_3"]["score"] == "0"
    )
    assert "3 submissions (1 not gradable)" in done.stdout


def mixed_export(folder, hand_ins: int = 2) -> dict:
    """An export as a real course makes: full hand-ins (the package with predictions.csv and the
    notebook beside it), bare packages of several semesters, the starter, and broken zips.
    Returns {submission: what it is}."""
    import shutil
    import zipfile

    from tests.grading import handouts

    kinds = {}
    for i in range(hand_ins):
        hw3 = folder / f"submission_h{i}" / "hw3"
        _student(hw3)
        (hw3 / "predictions.csv").write_text(
            "Id,Category\n" + "".join(f"{k},{k % 10}\n" for k in range(1, 10001))
        )
        (hw3 / "CS189_HW_NN.ipynb").write_text('{"cells": [], "nbformat": 4}')
        kinds[f"submission_h{i}"] = "hand-in"
    _student(folder / "submission_bare")
    kinds["submission_bare"] = "bare package"
    for layout in ("A", "C", "old"):
        handouts.release(layout, folder / f"submission_{layout}" / "code")
        kinds[f"submission_{layout}"] = f"layout {layout}"
    starter.package(folder / "submission_starter")
    kinds["submission_starter"] = "starter"
    clash = folder / "submission_clash"
    clash.mkdir()
    with zipfile.ZipFile(clash / "hw3.zip", "w") as z:
        z.writestr("hw3/neural_networks/layers.py", "x = 1\n")
        z.writestr("hw3/neural_networks/layers.py/inner.py", "y = 2\n")
    kinds["submission_clash"] = "broken zip"
    shutil.copytree(clash, folder / "submission_clash2")
    kinds["submission_clash2"] = "broken zip"
    return kinds


def _batch(export, out, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "grading", "batch", str(export), "--csv", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_mixed_export_with_the_default_jobs_finishes_with_a_row_each(tmp_path):
    """Hand-ins and bare packages of several semesters graded side by side (a reference
    computed in one thread while another starts sandboxes hung this batch forever), and broken
    zips that are rows, not stops."""
    kinds = mixed_export(tmp_path / "export")
    labels = ("--labels", str(_labels(tmp_path)))
    done = _batch(tmp_path / "export", tmp_path / "grades.csv", *labels, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    by = {r["submission"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert set(by) == set(kinds)
    assert by["submission_h0"]["semester"] == "hw3" and by["submission_bare"]["semester"] == "A"
    assert by["submission_C"]["semester"] == "C" and by["submission_old"]["semester"] == "old"
    assert by["submission_bare"]["score"] == by["submission_bare"]["total"] == "100"
    assert "cannot be unpacked" in by["submission_clash"]["reason"]
    assert f"{len(kinds)} submissions (2 not gradable)" in done.stdout


def _labels(folder):
    """Stand-in CIFAR-10 test labels (the hand-ins' predictions score 10%)."""
    import numpy as np

    path = folder / "labels.npy"
    np.save(path, np.arange(10000) % 7)
    return path


def test_a_hand_in_without_labels_is_a_row_saying_so_not_a_silent_zero(tmp_path):
    kinds = mixed_export(tmp_path / "export", hand_ins=1)
    for name in list(kinds):
        if kinds[name] != "hand-in":
            import shutil

            shutil.rmtree(tmp_path / "export" / name)
    done = _batch(tmp_path / "export", tmp_path / "grades.csv", "--jobs", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = list(csv.DictReader((tmp_path / "grades.csv").open()))
    assert "no CIFAR-10 test labels to score predictions.csv" in row["reason"]


def test_a_cell_never_starts_a_formula(tmp_path):
    export = tmp_path / "export"
    _student(export / "submission_1")
    names = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"]
    people = "".join(f"  - :name: {json_str(n)}\n    :sid: '=1+1'\n" for n in names)
    (export / "submission_metadata.yml").write_text(f"submission_1:\n  :submitters:\n{people}")
    done = _batch(export, tmp_path / "grades.csv", "--jobs", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = list(csv.DictReader((tmp_path / "grades.csv").open()))
    for value in row.values():
        assert value[:1] not in ("=", "+", "-", "@", "\t", "\r"), value
    assert row["name"].startswith("'=HYPERLINK") and row["sid"].startswith("'=1+1")


def json_str(text: str) -> str:
    import json

    return json.dumps(text)


def test_a_stopped_batch_keeps_the_rows_graded_before_the_stop(tmp_path):
    import signal
    import time

    export = tmp_path / "export"
    for i in range(8):
        _student(export / f"submission_{i}")
    out = tmp_path / "grades.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "grading", "batch", str(export), "--csv", str(out), "--jobs", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (
        not out.exists() or len(out.read_text().splitlines()) < 3
    ):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    rows = list(csv.DictReader(out.open()))
    assert proc.returncode == 130, stderr[-2000:]
    assert 2 <= len(rows) < 8 and all(r["score"] == "100" for r in rows)
    assert stderr.strip().splitlines()[-1].startswith(f"error: stopped after {len(rows)} of 8")
    assert "Traceback" not in stderr

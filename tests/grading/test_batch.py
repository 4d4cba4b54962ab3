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

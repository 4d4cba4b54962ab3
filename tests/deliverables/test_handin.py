"""deliverables/handin.py (make handin): every step in order, what is done skipped."""

import re
import subprocess
import sys
import zipfile

from deliverables import handin
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar


def test_a_draft_hand_in_skips_what_is_done_and_builds_the_rest(
    tiny_runs, tmp_path, capfd, monkeypatch, recwarn
):
    _, experiments, logs = tiny_runs  # the Iris runs, the comparison and 1-epoch vision runs
    accept_fake_cifar(monkeypatch)
    out = tmp_path / "hand-in"
    argv = ["--draft", "--experiments", str(experiments), "--logs", str(logs),
            "--answers", str(tmp_path / "answers.md"), "--student", str(tmp_path / "none.yaml"),
            "--report", str(out / "report"), "--output", str(out / "hw3.zip")]  # fmt: skip
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
    assert skipped == ["[1/7] Iris, the default network", "[2/7] Iris, the lr x hidden sweep",
                       "[3/7] Iris, three ways (an extra)", "[4/7] Fashion-MNIST MLP",
                       "[5/7] CIFAR-10 CNN"]  # fmt: skip
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
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "no name for the cover page" in done.stderr and "student.example.yaml" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written

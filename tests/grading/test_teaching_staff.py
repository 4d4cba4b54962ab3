"""docs/teaching-staff.md runs as written: every command of its first code block, in order, in
an empty folder beside the repository (where ``../shared/data`` is the shipped data), and its
maxima table is what the semesters' profiles give."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import pytest

from grading import grader, sandbox, semesters
from tests.conftest import ROOT, SHARED_DATA

PAGE = ROOT / "docs" / "teaching-staff.md"


def _block() -> list[str]:
    text = PAGE.read_text()
    block = text[text.index("```bash\n") + len("```bash\n") :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


@pytest.mark.skipif(
    not (SHARED_DATA / "cifar-10-batches-py" / "test_batch").is_file(), reason="no shipped data"
)
@pytest.mark.skipif(sandbox.available(unsafe=True).kind == "none", reason="no sandbox here")
def test_every_command_of_the_page_runs_as_written():
    folder = tempfile.mkdtemp(dir=ROOT.parent, prefix=".teaching-staff-")
    env = {k: v for k, v in os.environ.items() if k != "DATA_DIR"}
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env.get('PATH', '/usr/bin:/bin')}"
    try:
        for line in _block():
            command = line.split("  #")[0].strip()
            if command.startswith("export "):
                name, _, value = command.removeprefix("export ").partition("=")
                env[name] = os.path.normpath(os.path.join(folder, value))
                assert os.path.isdir(env[name]), command
                continue
            done = subprocess.run(
                command,
                shell=True,
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert done.returncode == 0, (command, done.stderr[-2000:])
        out = {p: os.path.join(folder, p) for p in ("hw3.zip", "results.json", "grades.csv")}
        assert all(os.path.isfile(p) for p in out.values())
        assert zipfile.is_zipfile(os.path.join(folder, "autograder.zip"))
        assert os.path.isdir(os.path.join(folder, "starter", "neural_networks"))
        results = __import__("json").loads(open(out["results.json"]).read())
        assert results["score"] == 130, results["output"]  # the reference hand-in: every point
        grades = open(out["grades.csv"]).read()
        assert "submission_1" in grades and ",130,130," in grades
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_maxima_table_is_what_the_profiles_give():
    text = PAGE.read_text()
    table = text[text.index("| layout | recognised by |") :].split("\n\n")[0]
    rows = [line.split("|") for line in table.splitlines()[2:]]
    config = grader.load_config()
    layouts = semesters.load()
    seen = {}
    for row in rows:
        name, maximum = row[1].strip(), int(row[-2].strip())
        seen[name] = maximum
        assert maximum == grader.maximum(layouts[name], config), name
        if "10 more" in row[3]:
            assert grader.maximum(layouts[name], config, with_if_present=True) == maximum + 10
    assert set(seen) == set(layouts)
    assert re.search(r"\| hw3 \|.*\| 130 \|", table)

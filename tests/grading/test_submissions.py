"""Submissions as files, under attack: every archive error, every deep or odd folder and every
broken notebook is one line naming the member or cell (exit 2 for one submission, a row in a
batch), and nothing is left in the temporary folder."""

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grading import grader, submission
from grading.submission import SubmissionError, locate
from tests.conftest import ROOT
from tests.grading.test_grader import reference_package


def _zip(path: Path, members: dict, encrypted=(), deflated=()) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name in deflated:
                info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    if encrypted or deflated:
        _patch(path, encrypted, deflated)
    return path


def _patch(path: Path, encrypted, deflated) -> None:
    """Set the encryption flag of ``encrypted`` members, corrupt the deflate stream of
    ``deflated`` ones (their local and central headers, and their data)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
    for info in infos:
        local = info.header_offset
        name_length = int.from_bytes(data[local + 26 : local + 28], "little")
        extra = int.from_bytes(data[local + 28 : local + 30], "little")
        start = local + 30 + name_length + extra
        if info.filename in encrypted:
            data[local + 6] |= 1
            central = data.find(b"PK\x01\x02")
            while central != -1:
                length = int.from_bytes(data[central + 28 : central + 30], "little")
                if data[central + 46 : central + 46 + length] == info.filename.encode():
                    data[central + 8] |= 1
                central = data.find(b"PK\x01\x02", central + 4)
        if info.filename in deflated:
            data[start : start + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))


PACKAGE = {"hw3/neural_networks/layers.py": "x = 1\n", "hw3/neural_networks/__init__.py": ""}
ZIPS = {  # name: (members, encrypted, deflated, words in the line)
    "a file where a folder is": (
        {**PACKAGE, "hw3/neural_networks/layers.py/inner.py": "y = 2\n"},
        (),
        (),
        "cannot be unpacked",
    ),
    "an encrypted member": (PACKAGE, ("hw3/neural_networks/layers.py",), (), "is encrypted"),
    "a corrupt deflate stream": (
        {**PACKAGE, "hw3/neural_networks/layers.py": "x = 1\n" * 500},
        (),
        ("hw3/neural_networks/layers.py",),
        "cannot be unpacked",
    ),
    "a 300-character name": (
        {**PACKAGE, "hw3/" + "a" * 300 + ".py": "z = 3\n"},
        (),
        (),
        "longer than 255 bytes",
    ),
    "a member 100 folders deep": (
        {**PACKAGE, "hw3/" + "d/" * 100 + "x.py": "z = 3\n"},
        (),
        (),
        "nests deeper than",
    ),
    "a control character in a member's name": (
        {**PACKAGE, "hw3/\x1b[31m/../../x": "z = 3\n"},
        (),
        (),
        "would unpack outside",
    ),
}


@pytest.mark.parametrize("name", list(ZIPS))
def test_a_broken_zip_is_one_line_naming_the_member(tmp_path, name):
    members, encrypted, deflated, words = ZIPS[name]
    path = _zip(tmp_path / "hw3.zip", members, encrypted, deflated)
    with pytest.raises(SubmissionError) as e:
        locate(path, tmp_path / "scratch")
    assert words in str(e.value) and "\n" not in str(e.value) and "\x1b" not in str(e.value)
    grade = grader.grade_path(path, None, grader.load_config())
    assert grade.refused and words in grade.refused
    done = subprocess.run(
        [sys.executable, "-m", "grading", str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-800:]
    assert "Traceback" not in done.stderr


def deep(folder: Path, levels: int) -> None:
    """``folder/d/d/.../d``, ``levels`` deep, made with relative paths (an absolute one would
    pass the length limit of a path)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def undeep(folder: Path) -> None:
    """Remove what ``deep`` made, from the bottom up, without recursion (shutil.rmtree, and so
    pytest's clean-up of old temporary folders, would overflow Python's stack)."""
    fds = [os.open(folder, os.O_RDONLY)]
    while "d" in os.listdir(fds[-1]):
        fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
    for inner, outer in zip(reversed(fds[1:]), reversed(fds[:-1])):
        os.close(inner)
        os.rmdir("d", dir_fd=outer)
    os.close(fds[0])


def test_a_folder_1200_levels_deep_is_refused_without_recursion(tmp_path):
    package = reference_package(tmp_path / "code")
    deep(package, 1200)
    private, tempfile.tempdir = tempfile.tempdir, str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    try:
        grade = grader.grade_path(package, None, grader.load_config())
        assert grade.refused and "nest deeper than 32 levels" in grade.refused
        assert list((tmp_path / "tmp").iterdir()) == []  # nothing left behind
        with pytest.raises(SubmissionError):
            submission.copy_package(package, tmp_path / "copy", max_files=10000, max_mb=100)
    finally:
        tempfile.tempdir = private
        undeep(package)


NOTEBOOKS = {
    "cells that are not objects": {"cells": [1, "two", None]},
    "cells nested 5,000 deep": "[" * 5000 + "]" * 5000,
    "a source of numbers": {"cells": [{"cell_type": "code", "source": [1, 2], "outputs": []}]},
    "outputs that are not a list": {"cells": [{"cell_type": "code", "source": "1", "outputs": 7}]},
    "an execution count of text": {
        "cells": [{"cell_type": "code", "source": "1", "outputs": [], "execution_count": "1"}]
    },
    "no cells": {"nbformat": 4},
}


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_a_broken_notebook_is_one_line(tmp_path, name):
    content = NOTEBOOKS[name]
    text = content if isinstance(content, str) else json.dumps(content)
    (tmp_path / "CS189_HW_NN.ipynb").write_text(text)
    result = grader.grade_notebook(tmp_path, 5)
    assert result.points == 0 and result.output.startswith("CS189_HW_NN.ipynb is not a notebook")
    assert "\n" not in result.output

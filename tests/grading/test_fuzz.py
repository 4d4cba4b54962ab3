"""Property tests (Hypothesis) of every reader of untrusted bytes: the sandbox's reply, npz
headers, JSON, zips, notebooks and Gradescope's metadata. Whatever the bytes, each gives its
result or its one-line refusal, never another exception, and leaves nothing behind. The
examples Hypothesis found while these were written are kept as ``@example``s."""

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grading import batch, grader, sandbox
from grading.submission import SubmissionError, extract
from grading.text import printable

FAST = settings(max_examples=150, deadline=None, derandomize=True)
SLOW = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LIMITS = sandbox.Limits(seconds=5, result_mb=1)


class Fed:
    """What a Channel holds after reading: records, or the problem that stopped it."""

    def __init__(self, records, problem=""):
        self.records, self.problem = records, problem


def _one_line(text: str) -> bool:
    return "\n" not in text and all(c.isprintable() for c in text)


kinds = st.sampled_from([b"A", b"R", b"U"])
records = st.lists(st.tuples(kinds, st.binary(max_size=600)), max_size=6)


@FAST
@given(records, st.integers(-9, 1))
@example([(b"R", b"[" * 5000)], 0)
@example([(b"A", b"PK\x05\x06" + b"\0" * 18)], 0)
def test_any_reply_gives_a_reply_with_one_line(recs, code):
    reply = sandbox._reply(Fed(recs), LIMITS, code, "")
    assert isinstance(reply.arrays, dict) and isinstance(reply.report, dict)
    assert _one_line(reply.failure)
    for array in reply.arrays.values():
        assert array.dtype == np.float64


descrs = st.sampled_from(
    ["<f8", ">f4", "<f2", "<i4", "|b1", "<c16", "|O", "<U3", "|V8", "[('a', '<f8')]", "<f8 "]
)
dims = st.one_of(st.integers(-5, 40), st.integers(2**31, 2**70), st.just(10**200))
shapes = st.lists(dims, max_size=10).map(tuple)


def _npy(descr: str, shape, fortran: bool, payload: bytes) -> bytes:
    header = f"{{'descr': {descr if descr.startswith('[') else repr(descr)}, "
    header += f"'fortran_order': {fortran}, 'shape': {shape!r}, }}"
    text = header.encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


@FAST
@given(descrs, shapes, st.booleans(), st.binary(max_size=400), st.text(max_size=30))
@example("<f8", (10**200, 10**200), False, b"", "f0/Y")
@example("<f8", (-1,), False, b"", "f0/Y")
def test_any_npz_member_is_read_or_refused(descr, shape, fortran, payload, name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(f"{name}.npy", _npy(descr, shape, fortran, payload))
    reply = sandbox._reply(Fed([(b"A", buffer.getvalue())]), LIMITS, 0, "")
    if reply.arrays:
        (array,) = reply.arrays.values()
        assert array.dtype == np.float64 and array.nbytes <= 2**20
        assert descr.strip().endswith(("f8", "f4", "f2"))
    else:
        assert reply.failure.startswith(("its reply is malformed", "it gave no result"))


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@FAST
@given(json_values, st.integers(0, 40))
def test_json_is_parsed_within_its_depth_or_refused(value, extra):
    text = "[" * extra + json.dumps(value) + "]" * extra
    try:
        sandbox.json_bounded(text.encode(), depth=16)
    except sandbox.Malformed as e:
        assert _one_line(str(e))


@FAST
@given(json_values)
@example({"cells": [1, "two", None]})
@example({"cells": [{"cell_type": "code", "source": [1], "outputs": []}]})
def test_any_notebook_gives_its_cells_or_one_line(value):
    try:
        cells = grader.notebook_code_cells(json.dumps(value).encode())
    except ValueError as e:
        assert _one_line(str(e))
    else:
        assert all(isinstance(c["outputs"], list) for c in cells)


names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.lists(st.sampled_from(["hw3", "..", "", ".", "a" * 300, "\x1b", "d"]), max_size=40).map(
        "/".join
    ),
)


@SLOW
@given(
    st.lists(st.tuples(names, st.binary(max_size=200), st.booleans(), st.booleans()), max_size=5)
)
@example([("hw3/neural_networks/layers.py", b"x", False, False)] * 2)
@example([("a", b"x", False, False), ("a/b", b"y", False, False)])
@example([])  # an empty zip: its folder was never made, and locating a package in it crashed
def test_any_zip_unpacks_inside_its_folder_or_is_one_line(members):
    import warnings

    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile's duplicate names: wanted here
        root = Path(scratch)
        path = root / "hw3.zip"
        with zipfile.ZipFile(path, "w") as z:
            for name, data, deflate, encrypt in members:
                info = zipfile.ZipInfo(name or "x")
                info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
                info.flag_bits |= 1 if encrypt else 0
                z.writestr(info, data)
        into = root / "out"
        try:
            extract(path, into)
        except SubmissionError as e:
            assert _one_line(str(e)) and len(str(e)) < 600
        for found in root.rglob("*"):
            assert found.resolve().is_relative_to(root.resolve())
        private, tempfile.tempdir = tempfile.tempdir, str(root / "tmp")
        (root / "tmp").mkdir()
        try:
            grade = grader.grade_path(path, None, grader.load_config())
        finally:
            tempfile.tempdir = private
        assert grade.refused or grade.results
        assert _one_line(grade.refused)
        assert list((root / "tmp").iterdir()) == []  # nothing left in its temporary folder


people = st.dictionaries(
    st.sampled_from([":name", ":email", ":sid", "name", 3]),
    st.one_of(st.text(max_size=20), st.integers(), st.none(), st.lists(st.text(max_size=5))),
    max_size=4,
)
metadata = st.one_of(
    json_values,
    st.dictionaries(
        st.text(max_size=12),
        st.one_of(
            st.dictionaries(st.just(":submitters"), st.lists(people, max_size=3)), json_values
        ),
        max_size=4,
    ),
)


@FAST
@given(metadata)
@example({"submission_1": {":submitters": [{":name": "=cmd|' /C calc'!A0"}]}})
def test_any_metadata_gives_names_or_none(value):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / batch.METADATA
        path.write_text(yaml.safe_dump(value, allow_unicode=True))
        found = batch.students(Path(scratch))
    assert isinstance(found, dict)
    for person in found.values():
        assert set(person) == {"name", "email", "sid"}
        for value in person.values():
            cell = batch.cell(value)
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r") and _one_line(cell)


@FAST
@given(st.text(max_size=400), st.integers(1, 300))
def test_printable_text_has_no_control_character(text, limit):
    out = printable(text, limit)
    assert len(out) <= limit and _one_line(out)
    assert os.linesep not in out

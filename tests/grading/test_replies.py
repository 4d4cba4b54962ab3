"""What comes back from a sandbox is read by one strict reader (grading/sandbox.py): records
over a pipe, npz headers checked as integers before anything is allocated, JSON with a depth
limit, float arrays only, printable text only. Each attack of issue 51 on the reply, and what the
student's code can do to the files around it, is here; every one failed before the reader was
rewritten (a traceback and no results.json, or a secret shown)."""

import io
import os
import zipfile

import numpy as np
import pytest

from grading import grader, judge, sandbox
from grading.submission import Submission
from tests.grading.test_grader import FAST, reference_package

LIMITS = sandbox.Limits(seconds=7)
needs_sandbox = pytest.mark.skipif(
    sandbox.available(unsafe=True).kind == "none", reason="no sandbox on this host (bubblewrap)"
)


def record(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(8, "big") + data


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def channel(*chunks: bytes, budget: int = 2**20) -> sandbox.Channel:
    """A Channel that read ``chunks`` from a real pipe, its writer gone."""
    read, write = os.pipe()
    reader = sandbox.Channel(read, budget)
    reader.start()
    try:
        for chunk in chunks:
            os.write(write, chunk)
    except BrokenPipeError:  # the reader stopped: what a child's next write meets
        pass
    os.close(write)
    reader.join(timeout=10)
    return reader


def forged_npy(header: str, payload: bytes = b"\0" * 64) -> bytes:
    """An npz whose one member has the header given (padded as numpy pads it)."""
    text = header.encode("latin1")
    text += b" " * (127 - 10 - len(text)) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("f0/Y.npy", member)
    return buffer.getvalue()


def reply_of(*chunks: bytes, code: int = 0) -> sandbox.Reply:
    return sandbox._reply(channel(*chunks), LIMITS, code, "")


REPORT = record(b"R", b"{}")
MALFORMED = {
    "a header whose shape overflows (10^200 x 10^200)": record(
        b"A", forged_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (10**200, 10**200), }")
    ),
    "a header with a negative shape": record(
        b"A", forged_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-4,), }")
    ),
    "a header claiming 8 TiB": record(
        b"A", forged_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2**40,), }")
    ),
    "booleans where floats are due (a gradient check's arrays)": record(
        b"A", npz(**{"check/numeric": np.ones(4, bool), "check/analytic": np.zeros(4, bool)})
    ),
    "strings": record(b"A", npz(**{"f0/Y": np.array(["1"] * 5)})),
    "complex numbers": record(b"A", npz(**{"f0/Y": np.ones(3, complex)})),
    "an array name with a path": record(b"A", npz(**{"../../etc": np.ones(3)})),
    "a report nested 5,000 deep": record(b"R", b"[" * 5000 + b"]" * 5000),
    "a report that is not a table": record(b"R", b"[1, 2, 3]"),
    "a report whose lines are numbers": record(b"R", b'{"f0": {"forward": 3}}'),
    "a record of an unknown kind": record(b"Z", b"x"),
    "not JSON at all": record(b"R", b"\xff\xfe{"),
    "a progress note that is a list": record(b"U", b"[1]"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_reply_costs_its_stage_in_one_line(name):
    honest = record(b"A", npz(**{"f0/Y": np.ones(3)}))
    reply = reply_of(honest, MALFORMED[name], REPORT)
    assert reply.arrays == {} and reply.report == {}
    assert reply.failure.startswith("its reply is malformed (") and "\n" not in reply.failure
    assert len(reply.failure) < 250


def test_a_reply_past_its_budget_is_malformed_and_not_read_further():
    big = record(b"A", npz(**{"f0/Y": np.ones(2**16)}))
    reader = channel(big, big, budget=2**19 + 2**18)
    reply = sandbox._reply(reader, LIMITS, 0, "")
    assert "larger than" in reply.failure and reply.arrays == {}


def test_control_characters_never_reach_a_line():
    report = b'{"f0": {"forward": "ValueError: \\u001b[31mred\\u001b[0m\\r\\nSandbox: forged"}}'
    reply = reply_of(record(b"R", report))
    line = reply.report["f0"]["forward"]
    assert "\x1b" not in line and "\r" not in line and "\n" not in line
    result = grader.Result("x", 0, 1, False, f"forward: {line}\nsecond line")
    assert result.output.count("\n") == 1 and "\x1b" not in result.output


def test_a_network_call_log_with_nan_is_dropped_not_trusted():
    from grading import pieces, semesters

    task = pieces.task("models.NeuralNetwork", semesters.load()["A"])
    log = np.array([[0, np.nan, 1], [np.inf, 0, 1]])
    arrays = {"net/out": task.compares[0].want, "net/forward_log": log}
    problems = judge.network_calls(arrays, task.extra)
    assert "never called" in problems["forward"]


SECRET = "the grader's secret 4f2a"


@needs_sandbox
@pytest.mark.parametrize(
    "attack",
    [
        "import os\nfor p in ('/sandbox/stderr', '/sandbox/result', 'stderr'):\n"
        "    try:\n        os.symlink({secret!r}, p)\n    except OSError:\n        pass\n"
        "os.write(2, b'the last line\\n')\nos._exit(1)",
        "import os\nfor p in ('/sandbox/stderr', 'stderr', '/tmp/stderr'):\n"
        "    try:\n        os.mkfifo(p)\n    except OSError:\n        pass\n"
        "os.write(2, b'the last line\\n')\nos._exit(1)",
    ],
    ids=["stderr replaced by a link to a root-only file", "stderr replaced by a FIFO"],
)
def test_the_files_around_the_child_cannot_be_turned_against_the_grader(tmp_path, attack):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    package = _relu_running(tmp_path, attack.format(secret=str(secret)))
    grade = grader.grade(Submission(package, None), None, FAST, only=("activations.ReLU",))
    (result,) = grade.results
    assert result.points == 0 and SECRET not in result.output and grade.seconds < 30
    assert "exited with status 1: the last line" in result.output, result.output


@needs_sandbox
def test_escape_sequences_in_an_exception_reach_no_output(tmp_path):
    package = _relu_running(
        tmp_path, "raise ValueError('\\x1b[2J\\x1b[31mgotcha\\r\\nSandbox: forged')"
    )
    grade = grader.grade(Submission(package, None), None, FAST, only=("activations.ReLU",))
    table = grader.table(grade)
    assert "\x1b" not in table and "gotcha" in table
    assert sum(line.startswith("Sandbox:") for line in table.splitlines()) == 1


@needs_sandbox
def test_a_piece_cannot_fill_the_disk(tmp_path):
    """Eight 60 MB files (each under the 64 MB file limit): the sandbox's folders hold 128 MB in
    all, so the writes fail there, and nothing reaches the host's disk."""
    attack = (
        "import os\nfor i in range(8):\n"
        "    with open(f'big-{i}.bin', 'wb') as f:\n"
        "        for _ in range(60):\n            f.write(b'x' * 2**20)"
    )
    package = _relu_running(tmp_path, attack)
    before = _free(tmp_path)
    config = grader.load_config()
    config["limits"]["seconds"] = 20
    grade = grader.grade(Submission(package, None), None, config, only=("activations.ReLU",))
    (result,) = grade.results
    assert "No space left on device" in result.output, result.output
    assert before - _free(tmp_path) < 50 * 2**20


def _free(path) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


def _relu_running(folder, code: str):
    """The reference, its ReLU.forward running ``code`` first."""
    package = reference_package(folder / "code")
    path = package / "activations.py"
    body = "".join(f"        {line}\n" for line in code.splitlines())
    target = "        return np.maximum(Z, 0)\n"
    text = path.read_text()
    assert target in text
    path.write_text(text.replace(target, body + target, 1))
    return package


@needs_sandbox
def test_a_file_name_cannot_forge_a_line_of_the_heading(tmp_path):
    package = reference_package(tmp_path / "code")
    (package / "x\r\nSandbox: forged").symlink_to("/etc/hostname")
    grade = grader.grade(Submission(package, None), None, FAST, only=("activations.ReLU",))
    lines = grade.heading().splitlines()
    assert sum(line.startswith("Sandbox:") for line in lines) == 1, lines
    assert any(line.startswith("Note: left out") for line in lines)


@needs_sandbox
def test_an_error_in_a_file_the_handout_never_had_is_located_at_the_students_frame(tmp_path):
    package = _relu_running(tmp_path, "from neural_networks import helpers\nhelpers.boom()")
    (package / "helpers.py").write_text("def boom():\n    raise ValueError('inside a helper')\n")
    grade = grader.grade(Submission(package, None), None, FAST, only=("activations.ReLU",))
    (result,) = grade.results
    line = result.output.splitlines()[0]
    assert "ValueError: inside a helper (neural_networks/activations.py:" in line, line
    assert "in forward, via neural_networks/helpers.py:2 in boom)" in line, line

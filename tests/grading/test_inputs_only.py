"""Nothing the grader expects is inside the student's process: every sandbox run gets inputs
only, its stand-ins compute from what they are given, Iris's test labels are a placeholder, and
a stage keeps what it finished when its time runs out.

The adversarial starter is the course's starter, every body unwritten, with a thief in its
``__init__.py``: at exit it loads every array file of its sandbox and every array held by any
object of the process (the stand-ins' attributes, the child's inputs) and sends them all back.
No looted array passes any comparison of its piece, whatever key it were written under."""

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest

from grading import grader, judge, pieces, sandbox, semesters, starter
from grading.submission import Submission, copy_package
from tests.grading import handouts, naive
from tests.grading.test_grader import FAST, reference_package

CONFIG = grader.load_config()
IDENTITY = {"activations.Linear", "activations.Identity"}  # f(z) = z: its answer is its input
needs_sandbox = pytest.mark.skipif(
    sandbox.available(unsafe=True).kind == "none", reason="no sandbox on this host (bubblewrap)"
)


def _answers(task: pieces.Task) -> list[np.ndarray]:
    """Every value that would pass a comparison of the piece (accepted conventions included)."""
    out = []
    for c in task.compares:
        out += [c.want, *(a for _, a in c.accept)]
    if "stable" in task.extra:
        out.append(task.extra["stable"])
    if task.piece == "iris":
        out.append(np.eye(3)[task.extra["labels"]])
    return out


def _given(stage: pieces.Stage) -> dict:
    """Every array a stage's sandbox receives: its inputs and the array files laid out for it."""
    out = dict(stage.inputs)
    for name, data in stage.files.items():
        if name.endswith(".npy"):
            out[name] = np.load(io.BytesIO(data), allow_pickle=False)
    return out


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 1e-6))


@pytest.mark.parametrize("layout", semesters.names())
def test_no_array_any_sandbox_receives_equals_an_expected_output(layout):
    semester = semesters.load()[layout]
    checked = 0
    for piece in semester.pieces:
        if piece in grader.HANDIN or piece in IDENTITY:
            continue
        task = pieces.task(piece, semester)
        answers = _answers(task)
        for stage in task.stages:
            for name, array in _given(stage).items():
                hits = [i for i, want in enumerate(answers) if _equal(array, want)]
                assert not hits, (piece, name, "equals an expected output")
                checked += 1
    assert checked > 100


THIEF = '''

def _thief():
    """Every array this process can reach, sent back on the reply's pipe."""
    import gc
    import os

    import numpy as np

    seen, loot = set(), []

    def take(a):
        if isinstance(a, np.ndarray) and a.dtype.kind in "biuf" and id(a) not in seen:
            seen.add(id(a))
            loot.append(np.array(a, dtype=np.float64))

    for folder in (os.getcwd(), os.path.dirname(os.path.abspath(__file__))):
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                try:
                    if name.endswith(".npy"):
                        take(np.load(path, allow_pickle=False))
                    elif name.endswith(".npz"):
                        with np.load(path, allow_pickle=False) as z:
                            for key in z.files:
                                take(z[key])
                except Exception:
                    pass
    for obj in gc.get_objects():
        try:
            if isinstance(obj, dict):
                values = list(obj.values())
            elif isinstance(obj, (list, tuple)):
                values = list(obj)
            else:
                values = list(vars(obj).values())
        except Exception:
            continue
        for value in values:
            take(value)
            for inner in value if isinstance(value, (list, tuple)) else ():
                take(inner)
    import io
    import sys

    buffer = io.BytesIO()
    np.savez(buffer, **{f"loot/{k:05d}": a for k, a in enumerate(loot[:4000])})
    data = buffer.getvalue()  # sent as the child sends its results: a record on its pipe
    os.write(int(sys.argv[3]), b"A" + len(data).to_bytes(8, "big") + data)


__import__("atexit").register(_thief)
'''


@pytest.fixture(scope="module")
def thief(tmp_path_factory) -> Path:
    """The starter, its bodies unwritten, with the thief in its __init__.py."""
    folder = tmp_path_factory.mktemp("thief")
    package = starter.write(folder)
    init = package / "__init__.py"
    init.write_text(init.read_text() + THIEF)
    return package


@needs_sandbox
def test_the_adversarial_starter_finds_no_answer_and_scores_zero(thief, tmp_path):
    semester = semesters.load()[starter.SEMESTER]
    root = tmp_path / "grade"
    root.mkdir(mode=0o711)
    copied = copy_package(thief, root / "package", **CONFIG["submission"])
    limits, protection = sandbox.Limits(**CONFIG["limits"]), sandbox.available()
    looted = 0
    for piece, status in semester.pieces.items():
        if piece in grader.HANDIN or status not in semesters.GRADED:
            continue
        task = pieces.task(piece, semester)
        for k, stage in enumerate(task.stages):
            request = {**stage.request, "restore": True} if stage.restore_unless else stage.request
            where = root / f"{piece}-{k}"
            reply = sandbox.run(
                copied.package, request, stage.inputs, limits, where, protection, stage.files
            )
            loot = [a for key, a in reply.arrays.items() if key.startswith("loot/")]
            assert loot, (piece, k, reply.failure)
            looted += len(loot)
            for c in task.compares:
                passing = [a for a in loot if judge.check(c, {c.key: a})[0]]
                assert not passing, (piece, c.key, "a looted array passes")
            if piece == "iris":
                for a in loot:
                    if a.shape == (30, 3):
                        error = np.mean(np.argmax(a, 1) != task.extra["labels"])
                        assert error > CONFIG["iris_max_test_error"], "looted labels pass Iris"
    assert looted > 100
    grade = grader.grade(Submission(thief, None), None, CONFIG)
    code = [r for r in grade.results if r.max_points > 0]
    assert code and all(r.points == 0 for r in code), grader.table(grade)


IRIS_FILES = [  # the two of the test's 30 flowers in every run; the other four are `slow`
    pytest.param(p.name, marks=() if "_test_" in p.name else pytest.mark.slow)
    for p in sorted((Path(pieces.__file__).parents[1] / "numpy_nn/iris").glob("*"))
]


@needs_sandbox
@pytest.mark.parametrize("name", IRIS_FILES)
def test_a_model_returning_a_file_of_the_iris_folder_gets_no_iris_points(tmp_path, name):
    package = reference_package(tmp_path)
    models = package / "models.py"
    models.write_text(
        models.read_text()
        + "\n\n_forward = NeuralNetwork.forward\n\n\n"
        + "def _copied(self, X, *args, **kwargs):\n"
        + "    if len(X) == 30:  # the test flowers: the file instead of the network\n"
        + f"        return np.load('datasets/iris/{name}')\n"
        + "    return _forward(self, X, *args, **kwargs)\n\n\n"
        + "NeuralNetwork.forward = _copied\n"
    )
    (result,) = grader.grade(Submission(package, None), None, FAST, only=("iris",)).results
    assert result.points == 0 and not result.passed, result.output


@needs_sandbox
def test_the_placeholder_labels_are_what_the_handouts_datasets_py_loads():
    files = pieces.iris_files()
    truth = np.load(Path(pieces.__file__).parents[1] / "numpy_nn/iris/iris_test_labels.npy")
    given = np.load(io.BytesIO(files["datasets/iris/iris_test_labels.npy"]), allow_pickle=False)
    assert given.shape == truth.shape and given.dtype == truth.dtype
    assert np.all(given.sum(axis=1) == 1) and not np.array_equal(given, truth)


@needs_sandbox
@pytest.mark.parametrize(
    "layout",
    [pytest.param("A", marks=pytest.mark.slow), "B", "C"],  # A's handout is B's padding
)
def test_a_naive_conv2d_and_pool2d_get_full_marks(tmp_path, layout):
    """Loops over the batch, the output positions and the channels (tests/grading/naive.py),
    within the configured limits."""
    folder = handouts.release(layout, tmp_path)
    naive.add(folder / "neural_networks", layout)
    only = ("layers.Conv2D", "layers.Pool2D")
    grade = grader.grade(Submission(folder / "neural_networks", folder), None, CONFIG, None, only)
    assert len(grade.results) == (1 if layout == "C" else 2)
    for r in grade.results:
        assert r.passed and r.points == r.max_points > 0, r.output


@needs_sandbox
@pytest.mark.parametrize(
    "piece, marker, kept, lost",
    [
        ("layers.FullyConnected", "@fc-backward-dZ", 6, {"dX", "dW", "db"}),
        ("layers.Pool2D", "@pool-backward-mask", 5, {"dX"}),
    ],
)
def test_a_piece_that_hangs_in_its_backward_keeps_its_forwards_points(
    tmp_path, piece, marker, kept, lost
):
    folder = handouts.release("A", tmp_path, mistakes={marker: "while True: pass"})
    start = time.perf_counter()
    (result,) = grader.grade(
        Submission(folder / "neural_networks", folder), None, FAST, only=(piece,)
    ).results
    assert result.points == kept, result.output
    failed = {line.split(":")[0] for line in result.output.splitlines()}
    assert failed == lost, result.output
    assert "took longer than 5 s while computing backward for a batch of" in result.output
    assert "keep their points" in result.output
    assert time.perf_counter() - start < 60


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _channel(*chunks: bytes) -> sandbox.Channel:
    """A Channel that read ``chunks`` from a real pipe, the writer gone."""
    read, write = os.pipe()
    channel = sandbox.Channel(read, 2**20)
    channel.start()
    for chunk in chunks:
        os.write(write, chunk)
    os.close(write)
    channel.join(timeout=10)
    return channel


def _record(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(8, "big") + data


def test_a_stage_that_stops_keeps_the_sub_parts_it_finished():
    """The reply of a run killed mid-way: every record sent whole before it counts, one cut
    short does not, and the sub-part it was running is named."""
    channel = _channel(
        _record(b"A", _npz(**{"r0/Y": np.ones(3)})),
        _record(b"R", b'{"r1": {"forward": "ValueError: bad (x.py:3)"}}'),
        _record(b"U", b'{"case": "r2", "part": "backward"}'),
        _record(b"A", _npz(**{"r2/dX": np.ones(3)}))[:-7],
    )
    reply = sandbox._reply(channel, sandbox.Limits(seconds=7), -9, "")
    assert set(reply.arrays) == {"r0/Y"} and reply.running == ("r2", "backward")
    assert reply.failure == "took longer than 7 s" and "r1" in reply.report


def test_the_stand_in_activation_computes_the_reference_and_notes_misuse():
    import numpy_nn.activations as reference

    rng = np.random.default_rng(0)
    Z, dY = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    for name in ("linear", "sigmoid", "tanh", "relu", "arctan", "softmax"):
        act, standin = reference.initialize_activation(name), pieces.standins.Activation(name)
        assert np.allclose(standin(Z), act.forward(Z), rtol=0, atol=1e-12), name
        assert np.allclose(standin.backward(Z, dY), act.backward(Z, dY), rtol=0, atol=1e-12)
        assert standin.notes == []
        standin.backward(standin.forward(Z), dY)
        assert standin.notes == ([] if name == "linear" else ["output"]), name
    standin = pieces.standins.Activation("relu")
    np.vectorize(standin)(Z)
    assert standin.notes == ["scalar"]


def test_the_network_stand_ins_are_what_the_grader_computes_with():
    task = pieces.task("models.NeuralNetwork", semesters.load()["A"])
    X, layers, standins = task.extra["X"], task.extra["layers"], pieces.standins
    calls = standins.Calls()
    stand_ins = [standins.Layer(i, W, b, d, calls) for i, (W, b, d) in enumerate(layers)]
    h = X
    for layer in stand_ins:
        h = layer.forward(h)
    assert np.array_equal(h, task.compares[0].want)
    assert [(kind, i) for kind, i, _ in calls.calls] == [
        ("forward", 0),
        ("forward", 1),
        ("forward", 2),
    ]
    assert np.array_equal(calls.calls[1][2][0], task.extra["outputs"][0])

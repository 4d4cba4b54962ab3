"""Grade one submission: the pieces its semester's handout has (``semesters.yaml``), each in its
own sandbox, every one graded whatever the others did. ``config.yaml`` holds the points of every
sub-part, the limits and the thresholds.
"""

import os
import pickle
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from grading import judge, pieces, sandbox, semesters, standins
from grading.semesters import Semester
from grading.submission import Submission, SubmissionError, copy_package, locate
from grading.text import printable

CONFIG = Path(__file__).with_name("config.yaml")
HANDIN = ("structure", "predictions.csv", "notebook")  # the hand-in's files, not the package's
LABELS = {"provided": "provided by the handout", "optional": "optional in this handout"}


@dataclass
class Result:
    name: str
    points: float
    max_points: float
    passed: bool
    output: str  # what a student reads: one line per failed sub-part
    status: str = "student"  # student, provided, optional, not graded
    value: float | None = None  # a measure beside the points (predictions.csv's accuracy)

    def __post_init__(self):
        self.output = printable(self.output, 600, lines=True)  # the grader's lines, each safe


@dataclass
class Grade:
    semester: Semester
    results: list = field(default_factory=list)
    seconds: float = 0.0
    protection: sandbox.Protection | None = None
    notes: tuple = ()  # what the copy of the submission left out
    refused: str = ""  # why it could not be graded at all

    @property
    def protection_kind(self) -> str:
        return self.protection.kind if self.protection else "none"

    @property
    def accuracy(self) -> float | None:
        """The CIFAR-10 test accuracy of predictions.csv, when it was scored."""
        r = next((r for r in self.results if r.name == "predictions.csv"), None)
        return None if r is None else r.value

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def total(self) -> float:
        return sum(r.max_points for r in self.results)

    def heading(self) -> str:
        lines = [f"Semester: {self.semester.title}; {self.semester.how}."]
        if self.protection is not None:
            lines.append(f"Sandbox: {self.protection.describe()}.")
        return "\n".join(
            printable(line, 400) for line in lines + [f"Note: {n}." for n in self.notes]
        )


def load_config(path: Path = CONFIG) -> dict:
    return yaml.safe_load(path.read_text())


# -- the package's pieces ----------------------------------------------------------------------
def _defines(package: Path, piece: str) -> bool:
    """Whether the piece's module defines its class (read, not run)."""
    import re

    module, _, cls = piece.partition(".")
    path = package / f"{module}.py"
    text = path.read_text(errors="replace") if path.is_file() else ""
    pattern = rf"^(class\s+{cls}\b|{cls}\s*=|(from|import)\s.*\b{cls}\b)"
    return re.search(pattern, text, re.MULTILINE) is not None


_TASKS = {}


def reference(piece: str, semester: Semester) -> pieces.Task:
    """The piece's task, computed by the reference once per semester and shared (read only)
    by every submission; one computation at a time, and never while a sandbox is being started
    (``sandbox.FORKING``: a fork beside a BLAS call in another thread can hang)."""
    with sandbox.FORKING:
        key = (piece, semester.name)
        if key not in _TASKS:
            _TASKS[key] = pieces.task(piece, semester)
        return _TASKS[key]


def run_piece(task, package: Path, limits, scratch: Path, protection, config) -> dict:
    """Every sub-part's verdict: the piece's stages in order, each its own sandbox run."""
    found = {}
    for _, _, verdict in stages(task, package, limits, scratch, protection, config):
        found.update(verdict)
    return found


def stages(task, package: Path, limits, scratch: Path, protection, config):
    """(stage, reply, its sub-parts' verdicts) of each stage in turn; a stage whose cache
    restoring, or whose inputs, depend on what an earlier stage gave is told it."""
    found, given = {}, {}
    for k, stage in enumerate(task.stages):
        request = dict(stage.request)
        if stage.restore_unless:
            request["restore"] = not found[stage.restore_unless].passed
        inputs = {**stage.inputs, **_following(task, stage, given)}
        where = scratch.with_name(f"{scratch.name}-{k}")
        reply = sandbox.run(package, request, inputs, limits, where, protection, stage.files)
        verdict = verdicts(task, stage, reply, config)
        found.update(verdict)
        given.update(reply.arrays)
        yield stage, reply, verdict


def _following(task, stage, given: dict) -> dict:
    """The inputs of ``stage.variants`` for the convention each case's forward took (the
    reference's when it took none)."""
    out = {}
    for case, variants in stage.variants.items():
        forward = next((c for c in task.compares if c.key == f"{case}/Y"), None)
        convention = judge.convention(forward, given) if forward is not None else ""
        out.update(variants.get(convention, {}))
    return out


def verdicts(task, stage, reply, config: dict) -> dict:
    """Every sub-part's verdict of one stage, with the piece's own checks and notes added."""
    if task.piece == "iris":
        return {"test error": _iris(task, reply, config)}
    if task.piece == "models.NeuralNetwork":
        task = _network_as_given(task, reply.arrays)
    found = judge.parts(task, stage, reply)
    if task.piece == "models.NeuralNetwork":
        for part, problem in judge.network_calls(reply.arrays, task.extra).items():
            found[part].passed, found[part].line = False, problem  # the likelier cause
    check = stage.request.get("check_config")
    about = "a small case"
    if check is not None and "check/X" in stage.inputs:
        shape = " x ".join(str(d) for d in stage.inputs["check/X"].shape)
        about = f"{pieces.call(stage.request['cls'], check)} for a batch of {shape}"
    note = judge.gradient_check_note(reply.arrays, about)
    if note and "dX" in found and not found["dX"].passed:
        found["dX"].line += " " + note
    if "stable" in task.extra and not judge.within(
        reply.arrays.get("big/Y", np.array(np.nan)), task.extra["stable"], False
    ):
        found["forward"].line = found["forward"].line or (
            "note (no points): NaN or inf for logits near 750; the handout hints at the stable "
            "form, which subtracts each row's maximum first"
        )
    return found


def _network_as_given(task, arrays: dict):
    """The network's task with what backward must give computed from the ``out`` it was given
    (its own forward's output when usable: ``standins.backward_out``)."""
    from dataclasses import replace

    extra = task.extra
    used = standins.backward_out(arrays.get("net/out"), extra["O"])
    loss = np.asarray(standins.loss_forward(extra["Y"], used, extra["w"], extra["u"]))
    compares = [replace(c, want=loss) if c.key == "net/loss" else c for c in task.compares]
    return replace(task, compares=compares, extra={**extra, "O": used})


def _iris(task, reply, config: dict) -> judge.Part:
    """The test error of the trained network's output on the test flowers, against the
    course's labels (which never enter the sandbox)."""
    bound, labels = config["iris_max_test_error"], task.extra["labels"]
    out = reply.arrays.get("iris/out")
    if out is None or out.shape != (len(labels), 3) or not np.all(np.isfinite(out)):
        why = judge._report_line(reply.report, "iris", "train") or reply.failure
        if out is not None:
            why = f"the trained network's output has shape {out.shape} or NaN, expected (30, 3)"
        return judge.Part("test error", False, f"the handout's Iris run: {why or 'no result'}")
    error = float(np.mean(np.argmax(out, axis=1) != labels))
    wrong = int(round(error * len(labels)))
    spec = task.extra["spec"]
    line = (
        f"test error {error:.3f} ({wrong} of {len(labels)} flowers) after the handout's "
        f"train_ffnn.py ({spec['epochs']} epochs, batch {spec['batch_size']}, seed "
        f"{spec['seed']}); at most {bound:g} passes"
    )
    return judge.Part("test error", error <= bound, line, 1, error)


def maximum(semester: Semester, config: dict, with_if_present: bool = False) -> float:
    """The points a package of ``semester`` can earn (an if_present piece counted when asked)."""
    counted = ("student", "if_present") if with_if_present else ("student",)
    total = 0.0
    for piece, status in semester.pieces.items():
        if status in counted:
            points = dict(config["points"][piece])
            if piece == "models.NeuralNetwork" and semester.model.get("predict") != "student":
                points["predict"] = 0
            total += sum(points.values())
    return total


NOT_WRITTEN = ("not implemented", "returned None", "the starter's placeholder")


def result(piece: str, status: str, found: dict, config: dict, semester: Semester) -> Result:
    """The piece's points (those of its right sub-parts, where its status counts) and lines."""
    points = dict(config["points"][piece])
    if piece == "models.NeuralNetwork" and semester.model.get("predict") != "student":
        points["predict"] = 0
    counts = status in semesters.GRADED
    earned = sum(points.get(n, 0) for n, v in found.items() if v.passed) if counts else 0
    total = sum(points.get(n, 0) for n in found) if counts else 0
    failed = [v for v in found.values() if not v.passed]
    if (
        status == "optional"
        and failed
        and all(any(w in v.line for w in NOT_WRITTEN) for v in failed)
    ):
        return Result(
            piece, 0, 0, True, "optional in this handout and not written: not graded", "not graded"
        )
    lines = [f"{v.name}: {v.line}" for v in failed] or [_summary(piece, found)]
    if not failed:
        lines += [v.line for v in found.values() if v.line and piece != "iris"]
    if not counts:
        lines[0] = f"{LABELS[status]}, no points: {lines[0]}"
    return Result(piece, earned, total, not failed, "\n".join(lines), status)


def _summary(piece: str, found: dict) -> str:
    if piece == "iris":
        return found["test error"].line
    compared = sum(v.compared for v in found.values())
    worst = max((v.worst for v in found.values()), default=0.0)
    return f"all {len(found)} sub-parts right ({compared} comparisons; largest error {worst:.1e})"


# -- the hand-in's files -----------------------------------------------------------------------
HANDIN_BYTES = 64 * 2**20  # the most of a hand-in file the grader reads


def handin_text(path: Path) -> str:
    """A hand-in file's text: a regular file of the submission, not a link, not too large
    (ValueError saying which)."""
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{path.name} is a link or not a file")
    if path.stat().st_size > HANDIN_BYTES:
        raise ValueError(f"{path.name} is larger than {HANDIN_BYTES // 2**20} MB")
    with open(path, "rb") as f:
        return f.read(HANDIN_BYTES).decode(errors="replace")


def grade_structure(hw3: Path, required: list[str], points: float) -> Result:
    missing = [r for r in required if not (hw3 / r).is_file()]
    if missing:
        return Result("structure", 0, points, False, f"hw3/ lacks {', '.join(missing)}")
    return Result(
        "structure", points, points, True, f"hw3/ holds all {len(required)} required files"
    )


def grade_notebook(hw3: Path, points: float) -> Result:
    path = hw3 / "CS189_HW_NN.ipynb"
    if not path.is_file():
        return Result("notebook", 0, points, False, "CS189_HW_NN.ipynb not found")
    try:
        code = notebook_code_cells(handin_text(path).encode())
    except ValueError as e:
        return Result("notebook", 0, points, False, f"CS189_HW_NN.ipynb is not a notebook: {e}")
    ran = [c for c in code if c["execution_count"]]
    shown = any(c["outputs"] for c in code)
    errors = [o for c in code for o in c["outputs"] if o.get("output_type") == "error"]
    ok = bool(code) and len(ran) == len(code) and shown and not errors
    why = f"{len(ran)} of {len(code)} code cells executed" + (
        ", with outputs" if shown else ", no outputs"
    )
    why += ", with an error" if errors else ""
    return Result("notebook", points if ok else 0, points, ok, why)


def notebook_code_cells(data: bytes) -> list[dict]:
    """The non-empty code cells of a notebook (bytes), each checked to be what nbformat
    writes; ValueError naming the first cell that is not (sandbox.Malformed is one)."""
    raw = sandbox.json_bounded(data, depth=32)
    cells = raw.get("cells") if isinstance(raw, dict) else None
    if not isinstance(cells, list):
        raise ValueError("no list of cells")
    code = []
    for i, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise ValueError(f"cell {i} is not an object")
        source, outputs = cell.get("source", ""), cell.get("outputs", [])
        if isinstance(source, list) and all(isinstance(x, str) for x in source):
            source = "".join(source)
        if not isinstance(source, str) or not isinstance(outputs, list):
            raise ValueError(f"cell {i}'s source or outputs are not text and a list")
        if not all(isinstance(o, dict) for o in outputs):
            raise ValueError(f"cell {i} has an output that is not an object")
        count = cell.get("execution_count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            raise ValueError(f"cell {i}'s execution_count is not a number")
        if cell.get("cell_type") == "code" and source.strip():
            code.append({"execution_count": count, "outputs": outputs})
    return code


def cifar_test_labels(data_dir: Path) -> np.ndarray:
    """The official CIFAR-10 test labels (the dataset's own pickled batch: trusted data)."""
    path = Path(data_dir) / "cifar-10-batches-py" / "test_batch"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: pass --data_dir, a folder holding cifar-10-batches-py/"
        )
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    return np.asarray(batch.get(b"labels", batch.get("labels")), dtype=np.int64)


NO_LABELS = (
    "no CIFAR-10 test labels to score predictions.csv: pass --data_dir DIR (a folder holding "
    "cifar-10-batches-py/), --labels FILE.npy, or set DATA_DIR"
)


class MissingLabels(Exception):
    """A hand-in's predictions.csv, and no labels to score it with: a user's mistake."""


def cifar_labels(data_dir: str | None, labels: str | None = None):
    """The CIFAR-10 test labels: a .npy of them, else the official test batch, else None."""
    if labels:
        return np.load(labels, allow_pickle=False)
    for folder in (data_dir, os.environ.get("DATA_DIR"), "data"):
        if folder and (Path(folder) / "cifar-10-batches-py" / "test_batch").is_file():
            return cifar_test_labels(Path(folder))
    return None


def read_predictions(path: Path, n: int) -> np.ndarray:
    """predictions.csv as labels, or ValueError naming the first thing wrong with it."""
    lines = handin_text(path).splitlines()
    if not lines or lines[0].strip() != "Id,Category":
        raise ValueError(
            f"the header must be Id,Category, got {lines[0][:40]!r}" if lines else "it is empty"
        )
    rows = [line.split(",") for line in lines[1:] if line.strip()]
    if len(rows) != n:
        raise ValueError(f"{len(rows)} rows, expected {n}")
    labels = np.empty(n, dtype=np.int64)
    for i, row in enumerate(rows, start=1):
        if len(row) != 2 or not row[0].strip().isdigit() or int(row[0]) != i:
            raise ValueError(f"row {i}: expected Id {i} and a label, got {','.join(row)[:40]!r}")
        if row[1].strip() not in {str(k) for k in range(10)}:
            raise ValueError(f"row {i}: label {row[1].strip()[:20]!r} is not an integer 0-9")
        labels[i - 1] = int(row[1])
    return labels


def grade_predictions(hw3: Path, labels, config: dict, points: float) -> Result:
    path = hw3 / "predictions.csv"
    if not path.is_file():
        return Result("predictions.csv", 0, points, False, "predictions.csv not found")
    if labels is None:
        return Result(
            "predictions.csv",
            0,
            points,
            False,
            "no CIFAR-10 test labels to score it (pass --data_dir)",
        )
    try:
        predicted = read_predictions(path, len(labels))
    except ValueError as e:
        return Result("predictions.csv", 0, points, False, f"predictions.csv: {e}")
    accuracy = float(np.mean(predicted == labels))
    earned = max(
        (t["points"] for t in config["predictions"] if accuracy >= t["accuracy"]), default=0
    )
    why = f"test accuracy {accuracy:.2%}"
    return Result("predictions.csv", earned, points, earned == points, why, value=accuracy)


def grade_handin(piece: str, hw3: Path | None, labels, config: dict) -> Result:
    points = sum(config["points"][piece].values())
    if hw3 is None:
        return Result(
            piece,
            0,
            0,
            True,
            "not graded: a neural_networks/ folder alone has no hand-in files",
            "not graded",
        )
    if piece == "structure":
        return grade_structure(hw3, config["structure"], points)
    if piece == "notebook":
        return grade_notebook(hw3, points)
    return grade_predictions(hw3, labels, config, points)


# -- a whole submission ------------------------------------------------------------------------
def plan(semester: Semester, package: Path) -> list[tuple[str, str]]:
    """(piece, status) of every piece graded, in the handout's order; an if_present piece the
    package lacks is not graded."""
    return [(p, s) for p, s in semester.pieces.items() if s != "if_present" or _defines(package, p)]


def grade(
    submission: Submission,
    labels=None,
    config: dict | None = None,
    semester: str | None = None,
    only: tuple = (),
    protection: sandbox.Protection | None = None,
    workers: int | None = None,
) -> Grade:
    """Every piece of ``submission``'s semester (or the ``only`` ones); none can stop the
    others. The package is copied once (``copy_package``); each piece reads that copy."""
    start = time.perf_counter()
    config = config or load_config()
    protection = protection or sandbox.available()
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
        root = Path(scratch)
        root.chmod(0o711)  # sandbox users may pass through to the package, not list the rest
        copied = copy_package(submission.package, root / "package", **config["submission"])
        (root / "package").chmod(0o755)
        sem = semesters.choose(copied.package, semester, submission.hw3)
        todo = [(p, s) for p, s in plan(sem, copied.package) if not only or p in only]
        code = [(p, s) for p, s in todo if p not in HANDIN and s != semesters.ABSENT]
        if labels is None and submission.hw3 is not None and "predictions.csv" in dict(todo):
            raise MissingLabels(NO_LABELS)  # never a silent 0
        tasks = [reference(p, sem) for p, _ in code]
        limits = sandbox.Limits(**config["limits"])

        def one(i_task):
            i, task = i_task
            return run_piece(task, copied.package, limits, root / f"piece-{i}", protection, config)

        workers = workers or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=max(1, min(len(code), workers))) as pool:
            runs = list(pool.map(one, enumerate(tasks)))
    done = {p: result(p, s, found, config, sem) for (p, s), found in zip(code, runs)}
    for piece, status in todo:
        if status == semesters.ABSENT:
            words = "not in this handout (the first line says why): not graded, not counted"
            done[piece] = Result(piece, 0, 0, True, words, "not graded")
        elif piece in HANDIN:
            done[piece] = grade_handin(piece, submission.hw3, labels, config)
    results = [done[p] for p, _ in todo]
    return Grade(sem, results, time.perf_counter() - start, protection, copied.notes)


def gradescope(grade: Grade, config: dict | None = None) -> dict:
    """Gradescope's results.json: each test's visibility from config.yaml, the semester and
    the sandbox in the output, the CIFAR-10 test accuracy on the leaderboard."""
    config = config or load_config()
    shown = config["gradescope"]
    tests = [
        {
            "name": r.name,
            "score": r.points,
            "max_score": r.max_points,
            "output": r.output,
            "status": "passed" if r.passed else "failed",
            "visibility": shown["visibility"].get(r.name, shown["default_visibility"]),
        }
        for r in grade.results
    ]
    out = {
        "score": grade.score,
        "execution_time": round(grade.seconds, 1),
        "tests": tests,
        "output": f"{grade.heading()}\n{grade.score:g} of {grade.total:g} points",
        "stdout_visibility": shown["stdout_visibility"],
        "extra_data": {"semester": grade.semester.name, "sandbox": grade.protection_kind},
    }
    if grade.accuracy is not None:
        out["leaderboard"] = [
            {
                "name": "CIFAR-10 test accuracy",
                "value": round(100 * grade.accuracy, 2),
                "order": "desc",
            }
        ]
    return out


def table(grade: Grade) -> str:
    lines = [grade.heading(), "", "| piece | points | result |", "|---|---:|---|"]
    for r in grade.results:
        verdict = "not graded" if r.status == "not graded" else "pass" if r.passed else "FAIL"
        first, *rest = r.output.splitlines() or [""]
        lines.append(f"| {r.name} | {r.points:g} / {r.max_points:g} | {verdict}: {first} |")
        lines += [f"| | | {line} |" for line in rest]
    return "\n".join(lines + [f"| total | {grade.score:g} / {grade.total:g} | |"])


def refused(reason: str, protection=None) -> Grade:
    """The Grade of a submission that could not be graded at all: the one line why."""
    reason = printable(reason, 400)
    sem = semesters.load()["A"]
    result = Result("submission", 0, 0, False, reason)
    return Grade(sem, [result], 0.0, protection, refused=reason)


def grade_path(
    path: Path, labels, config: dict, semester=None, protection=None, only=(), workers=None
) -> Grade:
    """``path`` (a zip, a folder) located, copied once and graded; a Grade saying why when it
    cannot be graded at all (never an exception for a student's file)."""
    with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
        try:
            submission = locate(path, Path(scratch))
            return grade(submission, labels, config, semester, only, protection, workers)
        except SubmissionError as e:
            return refused(str(e), protection)

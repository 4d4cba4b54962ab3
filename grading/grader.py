"""Grade one submission: every piece in order, each in its own sandbox, every piece graded
whatever the others did. ``grading/config.yaml`` holds the points, limits and thresholds."""

import json
import os
import pickle
import time
from pathlib import Path

import numpy as np
import yaml

from grading import pieces, sandbox
from grading.pieces import Result
from grading.submission import Submission

CONFIG = Path(__file__).with_name("config.yaml")
ACTIVATIONS = ("ReLU", "SoftMax", "Sigmoid", "TanH", "ArcTan", "Linear")
OPTIONAL = ("layers.Conv2D", "layers.Pool2D", "layers.BatchNorm1D")  # graded when defined


def load_config(path: Path = CONFIG) -> dict:
    return yaml.safe_load(path.read_text())


def implementation_tasks() -> list[tuple[str, callable]]:
    """(piece name, its task builder), in the order the handout asks for them."""
    tasks = [(f"activations.{c}", lambda c=c: pieces.activation_task(c)) for c in ACTIVATIONS]
    tasks += [("layers.FullyConnected", lambda: pieces.layer_task("FullyConnected")),
              ("losses.CrossEntropy", pieces.loss_task), ("models.NeuralNetwork", pieces.network_task),
              ("layers.Conv2D", lambda: pieces.layer_task("Conv2D")),
              ("layers.Pool2D", lambda: pieces.layer_task("Pool2D")),
              ("layers.BatchNorm1D", lambda: pieces.layer_task("BatchNorm1D"))]  # fmt: skip
    return tasks


def _missing_class(name: str, reason: str) -> bool:
    return name in OPTIONAL and reason.startswith("AttributeError") and name.split(".")[1] in reason


def grade_implementation(name: str, task, package: Path, points: float, limits) -> Result:
    request, inputs, expected = task()
    try:
        got = sandbox.run(package, request, inputs, limits)
    except sandbox.PieceFailed as e:
        if _missing_class(name, str(e)):
            return Result(name, 0, 0, True, "not in this package: not graded")
        return Result(name, 0, points, False, str(e))
    check = pieces.judge(expected, got, inputs)
    if check.failures:
        more = f" (and {len(check.failures) - 1} more)" if len(check.failures) > 1 else ""
        return Result(name, 0, points, False, check.failures[0] + more, check.worst, check.shapes)
    shapes = list(dict.fromkeys(check.shapes))
    tried = ", ".join(str(s).replace(" ", "") for s in shapes[:3]) + (
        ", ..." if len(shapes) > 3 else ""
    )
    return Result(name, points, points, True, f"{len(check.shapes)} comparisons on {len(shapes)} "
                  f"input shapes ({tried}); largest error {check.worst:.1e}", check.worst, shapes)  # fmt: skip


def grade_iris(package: Path, points: float, bound: float, limits) -> Result:
    request, inputs, _ = pieces.iris_task()
    try:
        error = float(sandbox.run(package, request, inputs, limits)["test_error"])
    except (sandbox.PieceFailed, KeyError) as e:
        return Result("iris", 0, points, False, str(e) or "no test error")
    ok = error <= bound
    return Result("iris", points if ok else 0, points, ok,
                  f"test error {error:.3f} with the handout's hyperparameters (bound {bound:.3f})")  # fmt: skip


def grade_structure(hw3: Path | None, required: list[str], points: float) -> Result:
    if hw3 is None:
        return Result(
            "structure", 0, points, False, "a neural_networks/ folder alone: no hw3/ to check"
        )
    missing = [r for r in required if not (hw3 / r).is_file()]
    if missing:
        return Result("structure", 0, points, False, f"hw3/ lacks {', '.join(missing)}")
    return Result(
        "structure", points, points, True, f"hw3/ holds all {len(required)} required files"
    )


def grade_notebook(hw3: Path | None, points: float) -> Result:
    path = hw3 / "CS189_HW_NN.ipynb" if hw3 else None
    if path is None or not path.is_file():
        return Result("notebook", 0, points, False, "CS189_HW_NN.ipynb not found")
    try:
        cells = json.loads(path.read_text())["cells"]
    except (ValueError, KeyError, TypeError):
        return Result(
            "notebook", 0, points, False, "CS189_HW_NN.ipynb is not a notebook (bad JSON)"
        )
    code = [
        c for c in cells if c.get("cell_type") == "code" and "".join(c.get("source", "")).strip()
    ]
    ran = [c for c in code if c.get("execution_count")]
    shown = any(c.get("outputs") for c in code)
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    ok = bool(code) and len(ran) == len(code) and shown and not errors
    why = f"{len(ran)} of {len(code)} code cells executed" + (
        ", with outputs" if shown else ", no outputs"
    )
    why += ", with an error" if errors else ""
    return Result("notebook", points if ok else 0, points, ok, why)


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
    lines = path.read_text(errors="replace").splitlines()
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


def grade_predictions(
    hw3: Path | None, labels: np.ndarray | None, config: dict, points: float
) -> Result:
    path = hw3 / "predictions.csv" if hw3 else None
    if path is None or not path.is_file():
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
    return Result("predictions.csv", earned, points, earned == points,
                  f"test accuracy {accuracy:.2%}", shapes=[(len(labels),)])  # fmt: skip


def grade(
    submission: Submission, labels: np.ndarray | None = None, config: dict | None = None
) -> list[Result]:
    """Every piece of ``submission``, in order; none can stop the others."""
    config = config or load_config()
    points, limits = config["points"], sandbox.Limits(**config["limits"])
    results = [grade_structure(submission.hw3, config["structure"], points["structure"])]
    for name, task in implementation_tasks():
        results.append(grade_implementation(name, task, submission.package, points[name], limits))
    results.append(
        grade_iris(submission.package, points["iris"], config["iris_max_test_error"], limits)
    )
    results.append(grade_predictions(submission.hw3, labels, config, points["predictions.csv"]))
    results.append(grade_notebook(submission.hw3, points["notebook"]))
    return results


def gradescope(results: list[Result], seconds: float) -> dict:
    """Gradescope's results.json."""
    tests = [{"name": r.name, "score": r.points, "max_score": r.max_points, "output": r.output,
              "visibility": "visible"} for r in results]  # fmt: skip
    score = sum(r.points for r in results)
    total = sum(r.max_points for r in results)
    return {"score": score, "execution_time": round(seconds, 1), "tests": tests,
            "output": f"{score:g} of {total:g} points"}  # fmt: skip


def table(results: list[Result]) -> str:
    lines = ["| piece | points | result |", "|---|---:|---|"]
    lines += [f"| {r.name} | {r.points:g} / {r.max_points:g} | {'pass' if r.passed else 'FAIL'}: {r.output} |"
              for r in results]  # fmt: skip
    total = sum(r.points for r in results), sum(r.max_points for r in results)
    return "\n".join(lines + [f"| total | {total[0]:g} / {total[1]:g} | |"])


def timed_grade(submission: Submission, labels=None, config=None) -> tuple[list[Result], float]:
    start = time.perf_counter()
    results = grade(submission, labels, config)
    return results, time.perf_counter() - start

"""Judging what came back from the sandbox: each sub-part passes or fails on the comparisons
``pieces`` listed, and a failed one gets the line a student reads: what was compared, in words,
the largest difference with the expected and the given value, and the likely cause when the
error has a known signature (a constant factor, a transpose, a flipped sign, a sum for a mean,
a wrong shape, NaN or inf, not implemented).
"""

from dataclasses import dataclass

import numpy as np

from grading.pieces import FIXTURE_TOLERANCE, TOLERANCE, Compare, Task

GRADIENT_PARTS = ("dX", "dW", "dU", "db", "backward")  # what the child's backward computes


@dataclass
class Part:
    """One sub-part's verdict."""

    name: str
    passed: bool
    line: str = ""  # why it failed; what was accepted instead, when it passed that way
    compared: int = 0
    worst: float = 0.0


def _aligned(got: np.ndarray, want: np.ndarray) -> np.ndarray | None:
    """``got`` in ``want``'s shape when they differ only in axes of length 1 ((n,) for (1, n))."""
    if got.shape == want.shape:
        return got
    if np.squeeze(got).shape == np.squeeze(want).shape:
        return got.reshape(want.shape)
    return None


def error(got: np.ndarray, want: np.ndarray, fixture: bool = False) -> float:
    """The error measured against the tolerance: the largest difference, relative to
    max(1, max |want|) (the course's 4 decimals on values of order 1, the same share of larger
    ones); inf when the shapes differ or a value is not finite."""
    got = _aligned(got, want)
    if got is None or not np.all(np.isfinite(got)):
        return float("inf")
    diff = float(np.max(np.abs(got - want), initial=0.0))
    return diff / max(1.0, float(np.max(np.abs(want), initial=0.0)))


def within(got: np.ndarray, want: np.ndarray, fixture: bool) -> bool:
    return error(got, want, fixture) <= (FIXTURE_TOLERANCE if fixture else TOLERANCE)


def _factor(c: float, m: int, k: int) -> str:
    def near(x):
        return abs(c - x) <= 1e-3 * abs(x)

    if near(-1):
        return "the sign is flipped"
    if m > 1 and near(m):
        return f"a factor of m = {m} too large: summed over the batch where it should average (1/m missing)"
    if m > 1 and near(1 / m):
        return f"a factor of m = {m} too small: divided by the batch size where it should not (the loss already averages)"
    if k > 1 and (near(k) or near(1 / k)):
        return f"off by a factor of {k} (the number of columns): averaged or summed over them"
    for x in (2, 0.5, -2, -0.5):
        if near(x):
            return f"off by a constant factor of {x:g}"
    return f"off by a constant factor of {c:.4g}"


def _shape_words(shape: np.ndarray) -> str:
    """A reported shape as the tuple it stands for."""
    if shape.ndim != 1 or not np.all(np.isfinite(shape)) or shape.size > 8:
        return "no shape"
    return str(tuple(int(d) for d in shape))


def same_shape(got: np.ndarray, want: np.ndarray) -> bool:
    """Whether a reported shape is ``want`` exactly: its length and every dimension."""
    return got.shape == want.shape and bool(np.all(got == want))


def diagnose(got: np.ndarray, c: Compare) -> str:
    """The line for a failed comparison (shape, NaN, a known mistake, a factor, the worst entry)."""
    want = c.want
    if c.shape:
        return f"{c.what} is {_shape_words(got)} where {_shape_words(want)} is expected"
    aligned = _aligned(got, want)
    if aligned is None:
        line = f"{c.what}: shape {got.shape} where {want.shape} is expected"
        if got.ndim == 2 and got.T.shape == want.shape and within(got.T, want, c.fixture):
            return line + "; likely cause: transposed"
        cause = _mistake(got, c)
        return f"{line}; likely cause: {cause}" if cause else line
    bad = ~np.isfinite(aligned)
    if bad.any():
        return f"{c.what}: NaN or inf in {int(bad.sum())} of {bad.size} values" + (
            f" ({c.inputs})" if c.inputs else ""
        )
    diff = np.abs(aligned - want)
    at = np.unravel_index(int(np.argmax(diff)), want.shape) if want.ndim else ()
    where = f" at {tuple(int(i) for i in at)}" if want.ndim else ""
    line = (
        f"{c.what}: largest difference {float(diff.max()):.3g}{where}: expected "
        f"{float(want[at]):.6g}, got {float(aligned[at]):.6g}"
    )
    cause = _cause(aligned, c)
    return f"{line}; likely cause: {cause}" if cause else line


def _mistake(got: np.ndarray, c: Compare) -> str:
    """The known mistake ``got`` is, when it is one of the comparison's."""
    for cause, array in c.mistakes:
        if array is not None and np.shape(array) == got.shape and within(got, array, c.fixture):
            return cause
    return ""


def _cause(got: np.ndarray, c: Compare) -> str:
    if cause := _mistake(got, c):
        return cause
    want = c.want
    if want.ndim == 2 and want.shape[0] == want.shape[1] and within(got.T, want, c.fixture):
        return "transposed"
    norm = float(np.sum(want * want))
    if norm > 0:
        k = float(np.sum(got * want)) / norm
        if abs(k - 1) > 1e-3 and within(got, k * want, c.fixture):
            m = c.batch or (want.shape[0] if want.ndim else 0)
            return _factor(k, m, want.shape[-1] if want.ndim >= 2 else 0)
    return ""


def check(c: Compare, arrays: dict) -> tuple[bool, str, float]:
    """(passed, the line, the error) for one comparison; the line names an accepted
    convention when the answer matched one of those instead."""
    got = arrays.get(c.key)
    if got is None:
        return False, "", float("inf")
    if c.shape:
        for convention, array in [("", c.want), *c.accept]:
            if same_shape(got, array):
                return True, f"{c.what}: accepted: {convention}" if convention else "", 0.0
        return False, diagnose(got, c), float("inf")
    e = error(got, c.want, c.fixture)
    if e <= (FIXTURE_TOLERANCE if c.fixture else TOLERANCE):
        return True, "", e
    for convention, array in c.accept:
        if _aligned(got, array) is not None and within(got, array, c.fixture):
            return True, f"{c.what}: accepted: {convention}", 0.0
    return False, diagnose(got, c), e


def convention(c: Compare, arrays: dict) -> str:
    """The accepted convention the answer matched ("" for the expected value, or no match)."""
    got = arrays.get(c.key)
    if got is None or (_aligned(got, c.want) is not None and within(got, c.want, c.fixture)):
        return ""
    for words, array in c.accept:
        if _aligned(got, array) is not None and within(got, array, c.fixture):
            return words
    return ""


PHASES = {"parameters", "forward", "backward", "running statistics", "evaluation", "predict"}
STANDIN_NOTES = {  # what a stand-in activation noted (child.py), in a student's words
    "scalar": "its activation was given a single number, not all of the pre-activation Z at "
    "once (np.vectorize or a loop?)",
    "output": "its activation's backward was given the activation's output (what forward "
    "returned), not the pre-activation Z; cache Z in forward and pass it",
}


def _phase(part: str) -> str:
    """The child's name for the step that computes a sub-part (backward gives dX, dW, ...)."""
    return "backward" if part in GRADIENT_PARTS else part


def _report_line(report: dict, case: str, part: str) -> str:
    """The child's line for this case's sub-part: an exception in it, or in the whole case."""
    mine = {**report.get("*", {}), **report.get(case, {})}
    for key in ("import", "setup"):
        if key in mine:
            return mine[key]
    return mine.get(_phase(part), "")


def _standin_note(report: dict, case: str, part: str) -> str:
    """What the stand-in activation saw, when the layer called it wrongly (known codes only)."""
    codes = report.get(case, {}).get(f"{_phase(part)}:standin", "").split(",")
    return "; ".join(STANDIN_NOTES[c] for c in codes if c in STANDIN_NOTES)


def _stopped(reply, cases: dict) -> str:
    """Why a stage gave no result for a comparison: it stopped (and what it was running)."""
    if not reply.failure:
        return ""
    line = reply.failure
    if reply.running and reply.running[0] in cases and reply.running[1] in PHASES:
        case, phase = reply.running
        line += f" while computing {phase} for {cases[case] or case}"
    if line.startswith("took longer"):
        line += "; the sub-parts finished before it keep their points"
    return line


def parts(task: Task, stage, reply) -> dict[str, Part]:
    """Every sub-part of ``stage``: passed when each of its comparisons is."""
    verdicts = {name: Part(name, True) for name in stage.parts}
    for c in task.compares:
        if c.part not in verdicts:
            continue
        v = verdicts[c.part]
        case = c.key.split("/")[0]
        ok, line, e = check(c, reply.arrays)
        v.compared += 1
        if ok:
            v.worst = max(v.worst, e)
            if line and not v.line:
                v.line = line
            continue
        if not v.passed and "likely cause" not in v.line and "likely cause" in line:
            v.line = line  # a later failure that names its cause says more than the first
        if v.passed:  # the first failure is the one reported, unless a later one names a cause
            if c.key not in reply.arrays:
                line = _report_line(reply.report, case, c.part)
                line = line or _stopped(reply, task.cases) or "no result"
                if not line.startswith(c.what.split(":")[0]):
                    line = f"{c.what}: {line}"
            elif note := _standin_note(reply.report, case, c.part):
                line = f"{c.what}: {note}"
            v.passed, v.line = False, line
    return verdicts


def gradient_check_note(arrays: dict, about: str = "a small case") -> str:
    """Whether the student's dL/dX matches central differences of their own forward on the
    ungraded check's case (``about``: that case in words; the check is about dX alone)."""
    n, a = arrays.get("check/numeric"), arrays.get("check/analytic")
    if n is None or a is None or a.shape != n.shape or not np.all(np.isfinite(a)):
        return ""
    if not np.all(np.isfinite(n)):
        return ""
    rel = float(np.linalg.norm(n - a) / max(np.linalg.norm(n + a), 1e-300))
    if rel < 1e-5:
        return f"(on {about}, your dL/dX does match central differences of your own forward)"
    return (
        f"(on {about}, your dL/dX differs from central differences of your own forward: "
        f"relative error {rel:.1e})"
    )


# -- the network's calls -----------------------------------------------------------------------
FORWARD, BACKWARD, LOSS, DLOSS = range(4)  # the call kinds child.py records
SAME = 1e-6  # an argument is the expected array to this (relative) tolerance


def network_calls(arrays: dict, extra: dict) -> dict[str, str]:
    """What the stand-ins were given, against what a correct network gives them:
    {"forward": problem, "backward": problem} (empty: fine)."""
    problems = {}
    if "net/out" in arrays:
        problems["forward"] = _forward_calls(_calls(arrays, "forward"), extra)
    if "net/loss" in arrays:
        problems["backward"] = _backward_calls(_calls(arrays, "backward"), extra)
    return {k: v for k, v in problems.items() if v}


def _calls(arrays: dict, part: str) -> list:
    """[(kind, layer, [arguments])] recorded during ``part``; malformed records are dropped."""
    log = arrays.get(f"net/{part}_log")
    if log is None or log.ndim != 2 or log.shape[1] != 3 or not np.all(np.isfinite(log)):
        return []
    out = []
    for k, (kind, i, count) in enumerate(log[:64]):
        args = [arrays.get(f"net/{part}_arg_{k:03d}_{j}") for j in range(int(min(count, 2)))]
        out.append((int(kind), int(i), [a for a in args if a is not None]))
    return out


def _same(got, want: np.ndarray) -> bool:
    if got is None or np.shape(got) != want.shape or not np.all(np.isfinite(got)):
        return False
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return bool(np.all(np.abs(got - want) <= SAME * scale))


def _forward_calls(calls: list, extra: dict) -> str:
    n = len(extra["layers"])
    forward = [(i, args) for kind, i, args in calls if kind == FORWARD and 0 <= i < n]
    firsts = list(dict.fromkeys(i for i, _ in forward))
    missing = [i for i in range(n) if i not in firsts]
    if missing:
        return f"NeuralNetwork.forward: layer {missing[0]}'s forward was never called"
    if firsts != sorted(firsts):
        return f"NeuralNetwork.forward: layers called in the order {firsts}, not first to last"
    for i, args in forward:
        want = extra["X"] if i == 0 else extra["outputs"][i - 1]
        if not (args and _same(args[0], want)):
            given = "the data X" if i == 0 else f"layer {i - 1}'s output"
            return f"NeuralNetwork.forward: layer {i} was given an input that is not {given}"
    return ""


def _backward_calls(calls: list, extra: dict) -> str:
    from grading import standins

    n, Y, O = len(extra["layers"]), extra["Y"], extra["O"]
    losses = [args for kind, _, args in calls if kind in (LOSS, DLOSS)]
    for args in losses:
        if len(args) == 2 and _same(args[0], O) and _same(args[1], Y):
            return (
                "NeuralNetwork.backward: the loss was given (out, target); the handout's "
                "order is loss.forward(target, out) and loss.backward(target, out)"
            )
    if not any(kind == DLOSS for kind, _, _ in calls):
        return "NeuralNetwork.backward: the loss's backward was never called (dL/dY_hat starts the chain)"
    backward = [(i, args) for kind, i, args in calls if kind == BACKWARD and 0 <= i < n]
    order = [i for i, _ in backward]
    missing = [i for i in range(n) if i not in order]
    if missing:
        first = " (the first layer gets no gradients)" if missing[0] == 0 else ""
        return f"NeuralNetwork.backward: layer {missing[0]}'s backward was never called{first}"
    if order != list(range(n - 1, -1, -1)):
        return (
            f"NeuralNetwork.backward: layers' backward called in the order {order}; the "
            f"chain rule needs each once, last layer first ({list(range(n - 1, -1, -1))})"
        )
    dout = standins.loss_backward(Y, O, extra["w"], extra["u"])
    want = standins.network_backward(dout, extra["layers"])
    for i, args in backward:
        if not (args and _same(args[0], want[i])):
            given = "the loss's gradient" if i == n - 1 else f"layer {i + 1}'s dL/dX"
            return f"NeuralNetwork.backward: layer {i}'s backward was given a dL/dY that is not {given}"
    return ""

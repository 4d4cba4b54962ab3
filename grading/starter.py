"""The students' starter, generated from the reference so that it can never drift from it.

    python -m grading starter --output DIR

``DIR/neural_networks/`` is numpy_nn under the handout's name with every graded function's body
replaced by the handout's skeleton, its signature kept and its docstring saying what to compute,
not how (the derivations are the homework)::

    def backward(self, Z, dY):
        \"\"\"dL/dZ, given Z and the upstream gradient dY = dL/dY, both (batch, features).\"\"\"
        ### BEGIN YOUR CODE ###
        raise NotImplementedError
        ### END YOUR CODE ###

The graded classes' docstrings are cut the same way; everything else is the reference as it is.
"""

import ast
import shutil
from pathlib import Path

from grading import semesters
from plumbing.errors import UserError, argument_parser, run_main
from plumbing.handout import handout_names

ROOT = Path(__file__).resolve().parents[1]
SEMESTER = "hw3"  # the layout the starter is written for (grading/semesters.yaml)
HOME = {
    "layers.Conv2D": "conv.py",
    "layers.Pool2D": "conv.py",
    "layers.BatchNorm1D": "normalization.py",
}  # numpy_nn's module of a piece, when not its own


def graded() -> dict:
    """{module file: {class: methods whose bodies the students write}}: the semester's student
    pieces (provided ones are left as they are)."""
    semester = semesters.load()[SEMESTER]
    out = {}
    for piece, status in semester.pieces.items():
        module, _, cls = piece.partition(".")
        if status not in semesters.GRADED or not cls:
            continue
        methods = ("forward", "backward")
        if piece == "models.NeuralNetwork" and semester.model.get("predict") == "student":
            methods += ("predict",)
        out.setdefault(HOME.get(piece, f"{module}.py"), {})[cls] = methods
    return out


SKELETON = ("### BEGIN YOUR CODE ###", "raise NotImplementedError", "### END YOUR CODE ###")
TASKS = {  # (module, method): the docstring a graded body keeps (what, not how)
    (
        "activations.py",
        "forward",
    ): "The activation of Z (batch, features): elementwise (SoftMax: over each row).",
    (
        "activations.py",
        "backward",
    ): "dL/dZ, given Z and the upstream gradient dY = dL/dY, both (batch, features).",
    ("layers.py", "forward"): "The layer's output for the batch X; cache what backward needs.",
    ("conv.py", "forward"): "The layer's output for the batch X (NHWC); cache what backward needs.",
    (
        "normalization.py",
        "forward",
    ): "The normalized batch X; update the running statistics in training.",
    (
        "losses.py",
        "forward",
    ): "The mean loss of the predictions Y_hat against the one-hot targets Y.",
    ("losses.py", "backward"): "dL/dY_hat, the shape of Y_hat.",
    ("models.py", "forward"): "The network's output for X: every layer's forward, in order.",
    (
        "models.py",
        "backward",
    ): "Backpropagate the loss of out against target through every layer; return the loss.",
    (
        "models.py",
        "predict",
    ): "(Y_hat, loss) for X and its targets Y: a forward and a backward pass.",
}
LAYER_BACKWARD = (
    "Given dL/dY of the last forward: store dL/d(parameter) in self.gradients; return dL/dX."
)


def _first_paragraph(doc: str) -> str:
    return doc.strip().split("\n\n")[0].strip()


def _docstring_lines(doc: str, indent: str) -> list[str]:
    text = _first_paragraph(doc).replace('"""', "'''")
    lines = text.splitlines()
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [
        f'{indent}"""{lines[0]}',
        *(f"{indent}{line.strip()}" for line in lines[1:]),
        f'{indent}"""',
    ]


def _task(module: str, method: str) -> str:
    return TASKS.get((module, method), LAYER_BACKWARD)


def _edits(tree: ast.Module, graded: dict, module: str) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, replacement) for each graded body and graded class docstring."""
    edits = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name not in graded:
            continue
        doc = ast.get_docstring(node, clean=False)
        if doc is not None:
            first = node.body[0]
            edits.append(
                (first.lineno, first.end_lineno, _docstring_lines(doc, " " * first.col_offset))
            )
        for fn in node.body:
            if isinstance(fn, ast.FunctionDef) and fn.name in graded[node.name]:
                indent = " " * fn.body[0].col_offset
                lines = _docstring_lines(_task(module, fn.name), indent)
                edits.append(
                    (fn.body[0].lineno, fn.end_lineno, lines + [indent + s for s in SKELETON])
                )
    return edits


def skeleton(source: str, graded: dict, module: str) -> str:
    """``source`` with the graded bodies replaced (line-based: the rest stays byte for byte)."""
    lines = source.splitlines()
    for first, last, new in sorted(_edits(ast.parse(source), graded, module), reverse=True):
        lines[first - 1 : last] = new
    return "\n".join(lines) + "\n"


def write(output: Path) -> Path:
    """``output/neural_networks/``: the starter package. Returns it."""
    package = output / "neural_networks"
    if package.exists():
        raise FileExistsError(f"{package} exists: choose an empty --output folder")
    shutil.copytree(
        ROOT / "numpy_nn", package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    todo = graded()
    for path in package.glob("*.py"):
        text = handout_names(path.read_text())
        if path.name in todo:
            text = skeleton(text, todo[path.name], path.name)
        path.write_text(text)
    return package


def main(argv=None) -> int:
    p = argument_parser("python -m grading starter", __doc__)
    p.add_argument("--output", required=True, help="an empty folder for neural_networks/")
    args = p.parse_args(argv)

    def body() -> int:
        try:
            package = write(Path(args.output))
        except FileExistsError as e:
            raise UserError(str(e)) from None
        print(f"wrote the starter package {package}")
        return 0

    return run_main(body)

"""The students' starter, generated from the reference so that it can never drift from it.

    python -m grading starter --output DIR

DIR is a whole hw3 starter: the package, train_ffnn.py, check_gradients.ipynb, tests/ with the
course's fixtures, the course's Iris split in datasets/iris/ and a README for students.
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
import json
import re
import shutil
from pathlib import Path

from grading import semesters
from plumbing.errors import UserError, argument_parser, run_main
from plumbing.handout import PACKAGE, course_suite, handout_names

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
        if status not in semesters.GRADED or module not in CODE_MODULES:
            continue  # the hand-in's files and Iris are not bodies to write
        methods = OWN_INIT.get(piece, ()) + ("forward", "backward")
        if piece == "models.NeuralNetwork" and semester.model.get("predict") == "student":
            methods += ("predict",)
        out.setdefault(HOME.get(piece, f"{module}.py"), {})[cls] = methods
    return out


OWN_INIT = {  # pieces whose _init_parameters the students write too (Conv2D's is provided)
    "layers.FullyConnected": ("_init_parameters",),
    "layers.BatchNorm1D": ("_init_parameters",),
}
KEEP = ("_init_parameters",)
CODE_MODULES = (
    "activations",
    "layers",
    "losses",
    "models",
)  # where a graded piece's class is  # the handout's own private names: never pruned as a helper
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
    (
        "layers.py",
        "_init_parameters",
    ): "Create W (n_in, n_out) and b (1, n_out), their gradients, and the cache.",
    (
        "normalization.py",
        "_init_parameters",
    ): "Create gamma and beta (1, n_in), their gradients, and the running statistics.",
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
                start = _after_header(fn)  # comments between the header and the body go too
                edits.append((start, fn.end_lineno, lines + [indent + s for s in SKELETON]))
    return edits


def _after_header(fn: ast.FunctionDef) -> int:
    """The first line after the ``def ...:`` header (which may span lines)."""
    last = max([fn.lineno, *(a.end_lineno for a in ast.walk(fn.args) if hasattr(a, "end_lineno"))])
    if fn.returns is not None:
        last = max(last, fn.returns.end_lineno)
    return last + 1


def skeleton(source: str, graded: dict, module: str) -> str:
    """``source`` with the graded bodies replaced (line-based: the rest stays byte for byte)."""
    lines = source.splitlines()
    for first, last, new in sorted(_edits(ast.parse(source), graded, module), reverse=True):
        lines[first - 1 : last] = new
    return "\n".join(lines) + "\n"


PROJECT_ONLY = (
    "threads",
    "winograd",
    "recurrent",
    "regularization",
    "experiment",
    "fashion_cnn",
    "gradcheck",
)  # numpy_nn's modules the handout never had: not in the starter
NOT_SHIPPED = ("iris",)  # numpy_nn's copy of the Iris split: the starter has datasets/iris/


def package(output: Path) -> Path:
    """``output/neural_networks/``: numpy_nn under the handout's name, the students' bodies to
    write, without numpy_nn's project-only modules and without any helper that only a graded
    body used (so nothing of an answer is left: ``tests/grading/test_starter.py``)."""
    target = output / PACKAGE
    skip = [f"{m}.py" for m in PROJECT_ONLY] + list(NOT_SHIPPED)
    shutil.copytree(
        ROOT / "numpy_nn", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *skip)
    )
    todo = graded()
    for path in target.glob("*.py"):
        text = path.read_text()
        if path.name in todo:
            text = prune(text, todo[path.name], path.name)
        path.write_text(handout_names(without_project_modules(text, path.name)))
    return target


def prune(source: str, graded: dict, module: str) -> str:
    """``source`` with the graded bodies replaced by the skeleton and every private helper
    (function or method) that only graded bodies used removed, until none is left."""
    used_by_graded = _names(_graded_bodies(ast.parse(source), graded))
    text = skeleton(source, graded, module)
    while True:
        tree = ast.parse(text)
        helpers = [
            node
            for node in _defs(tree)
            if node.name.startswith("_")
            and not node.name.startswith("__")
            and node.name not in KEEP
            and node.name in used_by_graded
            and node.name not in _names([n for n in _defs(tree) if n is not node] + _outside(tree))
        ]
        if not helpers:
            return text
        lines = text.splitlines()
        for node in sorted(helpers, key=lambda n: -n.lineno):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            del lines[first - 1 : node.end_lineno]
        text = "\n".join(lines) + "\n"


def _defs(tree: ast.Module) -> list:
    """Every function of the module and every method of its classes."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out.append(node)
        elif isinstance(node, ast.ClassDef):
            out += [n for n in node.body if isinstance(n, ast.FunctionDef)]
    return out


def _outside(tree: ast.Module) -> list:
    """What is not a function: module statements, class bodies' other statements."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out += [n for n in node.body if not isinstance(n, ast.FunctionDef)]
            out += node.bases + node.decorator_list
        elif not isinstance(node, ast.FunctionDef):
            out.append(node)
    return out


def _graded_bodies(tree: ast.Module, graded: dict) -> list:
    return [
        fn
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name in graded
        for fn in node.body
        if isinstance(fn, ast.FunctionDef) and fn.name in graded[node.name]
    ]


def _names(nodes: list) -> set:
    """Every name and attribute the nodes refer to."""
    found = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                found.add(n.id)
            elif isinstance(n, ast.Attribute):
                found.add(n.attr)
    return found


def without_project_modules(source: str, module: str) -> str:
    """``source`` without its imports of numpy_nn's project-only modules and the registry lines
    that name what they gave (``"dropout": Dropout,``, ``"Dropout",``); a ValueError when
    anything else still uses one of those names (the starter would not import)."""
    tree, lines, gone = ast.parse(source), source.splitlines(), set()
    for node in sorted(tree.body, key=lambda n: -n.lineno):
        if isinstance(node, ast.ImportFrom) and _project_only(node):
            gone |= {a.asname or a.name for a in node.names}
            del lines[node.lineno - 1 : node.end_lineno]
    pattern = re.compile(
        rf'^\s*("\w+": ({"|".join(map(re.escape, gone))}),|"({"|".join(map(re.escape, gone))})",)\s*$'
    )
    if gone:
        lines = [line for line in lines if not pattern.match(line)]
    text = "\n".join(lines) + "\n"
    left = gone & _names([ast.parse(text)])
    if left:
        raise ValueError(f"{module} still uses {sorted(left)} from numpy_nn's project-only modules")
    return text


def _project_only(node: ast.ImportFrom) -> bool:
    parts = (node.module or "").split(".")
    if parts[0] != "numpy_nn":
        return False
    if len(parts) > 1:
        return parts[1] in PROJECT_ONLY
    return any(a.name in PROJECT_ONLY for a in node.names)


def script() -> str:
    """train_ffnn.py, the handout's steps as this project writes them, run with the defaults
    when started (the project's command line, commands/, is not in the starter)."""
    text = handout_names((ROOT / "train_ffnn.py").read_text())
    return text[: text.index('if __name__ == "__main__":')] + STANDALONE


STANDALONE = """if __name__ == "__main__":  # the starter's: one run with the defaults
    results = train(experiment.DEFAULTS, "experiments", progress=True)
    for split in ("train", "val", "test"):
        print(f"{split:<6} loss {results[split + '_loss']:.4f}  error {results[split + '_error']:.3f}")
"""

README = """# CS189 homework: neural networks in numpy (starter)

Write the bodies marked `### BEGIN YOUR CODE ###` in `neural_networks/`; everything else is
given. Each docstring says what to compute; the derivations are the homework. The bodies:

{bodies}

    python -m pip install numpy matplotlib tqdm pandas jupyter
    python -m unittest discover -s tests         # the course's tests (tests/data: their fixtures)
    jupyter notebook check_gradients.ipynb        # your backward against central differences
    python train_ffnn.py                          # the Iris network (datasets/iris/: the course's split)

Each of the course's tests fails once until its body is written, naming the case it failed on.

**Handing in.** Zip the folder as `hw3.zip` with `hw3/` at its top: `neural_networks/` (your
package), `train_ffnn.py`, and two files this starter does not make for you: `CS189_HW_NN.ipynb`,
the assignment's notebook, run from top to bottom with its outputs (5 points), and
`predictions.csv`, your CIFAR-10 test predictions as `Id,Category` rows 1 to 10000 (20 points;
80% accuracy earns all of them); the folder's layout itself is 5 points. From the folder above
`hw3/`: `zip -r hw3.zip hw3 -x '*/__pycache__/*'`.

The autograder runs the same kinds of checks on each piece, one sub-part at a time (forward, each
gradient), in a sandbox with numpy, pandas, tqdm, matplotlib, scipy and scikit-learn; a piece is
graded on its own code, so a bug in one costs that one.
"""


def readme() -> str:
    """The starter's README, listing the bodies to write from ``graded()``."""
    lines = []
    for module, classes in graded().items():
        for cls, methods in classes.items():
            names = ", ".join(f"`{m}`" for m in methods)
            lines.append(f"- `{cls}` in `neural_networks/{module}`: {names}")
    return README.format(bodies="\n".join(lines))


def write(output: Path) -> Path:
    """The whole starter in ``output``: the package, train_ffnn.py, check_gradients.ipynb,
    tests/ with the fixtures, datasets/iris/ and a README. Returns the package."""
    if (output / PACKAGE).exists():
        raise FileExistsError(f"{output / PACKAGE} exists: choose an empty --output folder")
    target = package(output)
    files = {
        "train_ffnn.py": script().encode(),
        "README.md": readme().encode(),
        **course_suite(ROOT),
    }
    notebook = json.loads(
        (ROOT / "deliverables" / "notebooks" / "check_gradients.ipynb").read_text()
    )
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
    files["check_gradients.ipynb"] = handout_names(json.dumps(notebook, indent=1)).encode()
    for path in sorted((ROOT / "numpy_nn" / "iris").glob("*.npy")):
        files[f"datasets/iris/{path.name}"] = path.read_bytes()
    for name, data in files.items():
        (output / name).parent.mkdir(parents=True, exist_ok=True)
        (output / name).write_bytes(data)
    return target


def main(argv=None) -> int:
    p = argument_parser("python -m grading starter", __doc__)
    p.add_argument("--output", required=True, help="an empty folder for the starter")
    args = p.parse_args(argv)

    def body() -> int:
        try:
            package = write(Path(args.output))
        except FileExistsError as e:
            raise UserError(str(e)) from None
        print(
            f"wrote the starter in {args.output}: {package.name}/, train_ffnn.py, "
            "check_gradients.ipynb, tests/, datasets/iris/, README.md"
        )
        return 0

    return run_main(body)

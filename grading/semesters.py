"""Which semester's handout a package was written against (``semesters.yaml``), read from its
files without running any of them.

    semester = semesters.choose(package)          # recognised from the files
    semester = semesters.choose(package, "B")     # --semester B
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from plumbing.settings import read as read_settings

FILE = Path(__file__).with_name("semesters.yaml")
GRADED = ("student", "if_present")  # statuses whose points count
ABSENT = "absent"  # not in this handout: neither graded nor counted, said so
MODULES = ("activations.py", "layers.py", "losses.py")
FACTORY = {  # a piece's name in its module's factory (initialize_layer, ...): its branch
    "layers.FullyConnected": "fully_connected",
    "layers.Conv2D": "conv2d",
    "layers.Pool2D": "pool2d",
    "layers.BatchNorm1D": "batchnorm1d",
    "layers.Elman": "elman",
    "layers.Flatten": "flatten",
    "activations.Linear": "linear",
    "activations.Identity": "identity",
    "activations.Sigmoid": "sigmoid",
    "activations.TanH": "tanh",
    "activations.ReLU": "relu",
    "activations.SoftMax": "softmax",
    "activations.ArcTan": "arctan",
    "losses.CrossEntropy": "cross_entropy",
    "losses.L2": "l2",
}


@dataclass(frozen=True)
class Semester:
    name: str
    title: str
    pieces: dict  # piece name -> status (student, optional, provided, if_present)
    model: dict
    conv: str
    optimizer: dict
    iris: dict
    how: str = ""  # how it was chosen, in words
    detect: dict = field(default_factory=dict)

    def status(self, piece: str) -> str | None:
        """The piece's status in this handout, None when it never asked for it."""
        return self.pieces.get(piece)

    def activation_name(self, name: str) -> str:
        """The handout's name for an activation (the old layout says identity for linear)."""
        return self.model.get("names", {}).get(name, name)


def load(path: Path = FILE) -> dict:
    data = read_settings(path)
    layouts = {}
    for name, spec in data["layouts"].items():
        spec = dict(spec)
        base = data["layouts"].get(spec.pop("extends", None), {})
        pieces = {**base.get("pieces", {}), **spec["pieces"]}
        spec = {**base, **spec, "pieces": {p: s for p, s in pieces.items() if s != "never"}}
        layouts[name] = Semester(name=name, iris=data["iris"], **spec)
    return layouts


def names() -> list[str]:
    return list(load())


HANDIN = ("CS189_HW_NN.ipynb", "predictions.csv")  # this project's hand-in, beside the package


def features(package: Path, handin: Path | None = None) -> dict:
    """What the layouts differ in, read from the files: the utils module's form, utils/'s
    convolution.py, the classes the graded modules define or import, and whether the folder around the
    package (``handin``: the submission's hw3/, when there is one) holds this project's
    hand-in."""
    utils = "file" if (package / "utils.py").is_file() else None
    if utils is None and (package / "utils").is_dir():
        utils = "folder"
    classes = set()
    for module in MODULES:
        path = package / module
        if path.is_file():
            text = path.read_text(errors="replace")
            classes.update(re.findall(r"^class\s+(\w+)", text, re.MULTILINE))
            for names in re.findall(r"^from\s+[\w.]+\s+import\s+(\([^)]*\)|[^\n#]+)", text, re.M):
                classes.update(n.split()[0] for n in names.strip("()").split(",") if n.split())
    return {
        "utils": utils,
        "convolution": (package / "utils" / "convolution.py").is_file(),
        "classes": classes,
        "handin": handin is not None and any((handin / n).is_file() for n in HANDIN),
    }


def _matches(rule: dict, seen: dict) -> bool:
    for key, want in rule.items():
        if key == "classes":
            if not set(want) <= seen["classes"]:
                return False
        elif key == "lacks":
            if set(want) & seen["classes"]:
                return False
        elif seen.get(key) != want:
            return False
    return True


def _describe(seen: dict) -> str:
    utils = {"file": "utils.py", "folder": "utils/", None: "no utils"}[seen["utils"]]
    parts = [utils + (" with convolution.py" if seen["convolution"] else "")]
    if seen["handin"]:
        parts.append("the notebook or predictions.csv beside it")
    for cls in ("ArcTan", "Identity", "Elman", "Pool2D", "BatchNorm1D", "L2"):
        if cls in seen["classes"]:
            parts.append(cls)
    return ", ".join(parts)


def detect(package: Path, layouts: dict | None = None, handin: Path | None = None) -> Semester:
    """The layout whose rule the package's files match (the most specific rule first); with
    none, the one whose pieces' classes it defines most of."""
    layouts = layouts or load()
    seen = features(package, handin)
    ordered = sorted(layouts.values(), key=lambda s: -len(s.detect))
    for semester in ordered:
        if _matches(semester.detect, seen):
            how = f"recognised from its files: {_describe(seen)}"
            return _with_how(semester, how)

    def overlap(s: Semester) -> int:
        return len({p.split(".")[-1] for p in s.pieces} & seen["classes"])

    best = max(layouts.values(), key=overlap)
    return _with_how(best, f"the closest to its files: {_describe(seen)}")


def _with_how(semester: Semester, how: str) -> Semester:
    from dataclasses import replace

    return replace(semester, how=how)


def choose(package: Path, name: str | None = None, handin: Path | None = None) -> Semester:
    """``name``'s layout (``--semester``: its profile alone decides), else the one recognised
    from ``package`` (and ``handin``, the submission's folder around it), narrowed to what the
    handout itself asks of the students (``narrowed``)."""
    layouts = load()
    if name is None:
        return narrowed(detect(package, layouts, handin), package, handin)
    if name not in layouts:
        raise KeyError(f"unknown semester {name!r}: choose one of {', '.join(layouts)}")
    return _with_how(layouts[name], "chosen with --semester")


def narrowed(semester: Semester, package: Path, around: Path | None = None) -> Semester:
    """The recognised layout with the handout's own word first: the pieces its
    ``generate_submission.py`` lists in ``student_implementations`` (beside the package) are the
    ones students write (``around``: the submission's folder holding the package); and a piece
    whose class is absent together with its factory's branch was not in this handout (never
    charged). The first line says which rule decided."""
    from dataclasses import replace

    pieces, how = dict(semester.pieces), semester.how
    listed = student_implementations(around / "generate_submission.py") if around else None
    if listed is not None:
        for piece, status in semester.pieces.items():
            code = piece.partition(".")[0] in ("activations", "layers", "losses", "models")
            if code and status in GRADED and piece not in listed:  # (Iris, the hand-in: kept)
                pieces[piece] = ABSENT
        for piece in listed:
            if piece in FACTORY and semester.status(piece) not in GRADED:
                pieces[piece] = "student"
        how += "; graded pieces from its generate_submission.py's student_implementations"
    seen = features(package)
    absent = [  # (an if_present piece the package lacks is left out, not listed: grader.plan)
        p
        for p, status in pieces.items()
        if status not in (ABSENT, "if_present") and not _present(package, p, seen)
    ]
    for piece in absent:
        pieces[piece] = ABSENT
    if absent:
        how += f"; not in this handout (no class, no factory branch): {', '.join(absent)}"
    return replace(semester, pieces=pieces, how=how)


def _present(package: Path, piece: str, seen: dict) -> bool:
    """Whether the package has the piece's class or its factory's branch (read, not run)."""
    module, _, cls = piece.partition(".")
    if piece not in FACTORY or cls in seen["classes"]:
        return True
    path = package / f"{module}.py"
    text = path.read_text(errors="replace") if path.is_file() else ""
    return re.search(rf"""["']{FACTORY[piece]}["']""", text) is not None


def student_implementations(path: Path) -> set | None:
    """The pieces (``module.Class``) the handout's ``generate_submission.py`` lists in its
    ``student_implementations``, read without running it; None when there is no such file or
    list (or it cannot be read)."""
    import ast

    if not path.is_file() or path.is_symlink() or path.stat().st_size > 2**20:
        return None
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "student_implementations" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                return None
            names = value.values() if isinstance(value, dict) else [value]
            dotted = [n for group in names if isinstance(group, list) for n in group]
            return {".".join(n.split(".")[:2]) for n in dotted if isinstance(n, str)}
    return None

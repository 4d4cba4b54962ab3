"""Grading a whole course: ``python -m grading batch FOLDER --csv grades.csv``.

FOLDER is Gradescope's export of an assignment's submissions: a ``submission_<id>/`` folder per
submission and ``submission_metadata.yml`` naming who made each (any other folder of folders
works too, each subfolder a submission). Submissions are graded in parallel, one piece per core
at a time, behind a progress bar; the CSV has one row per submission (its id, its students,
the semester and sandbox used, the score) and one column per piece. A submission that cannot
be graded is a row with its reason, never a stop.
"""

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from grading import grader, sandbox, semesters
from plumbing.errors import UserError, argument_parser, run_main
from plumbing.files import writable_file, write_text

METADATA = "submission_metadata.yml"


def submissions(folder: Path) -> list[Path]:
    """Every submission folder (or file) in ``folder``, in a stable order."""
    found = sorted(p for p in folder.iterdir() if p.name != METADATA and not p.name.startswith("."))
    if not found:
        raise UserError(f"{folder} holds no submissions: pass Gradescope's export folder")
    return found


def students(folder: Path) -> dict[str, dict]:
    """{submission folder name: {"name", "email", "sid"}} from Gradescope's metadata (empty
    when there is none or it cannot be read)."""
    path = folder / METADATA
    try:
        meta = yaml.safe_load(path.read_text()) if path.is_file() else {}
    except (OSError, yaml.YAMLError):
        return {}
    out = {}
    for key, entry in (meta or {}).items():
        people = (entry or {}).get(":submitters") or (entry or {}).get("submitters") or []
        out[str(key)] = {k: _joined(people, k) for k in ("name", "email", "sid")}
    return out


def _joined(people: list, key: str) -> str:
    """One field of every submitter (Gradescope writes its keys as Ruby symbols, ":name")."""
    return "; ".join(str(p.get(f":{key}", p.get(key, ""))) for p in people if isinstance(p, dict))


def rows(grades: dict[str, grader.Grade], who: dict[str, dict]) -> tuple[list, list]:
    """(header, rows) of the CSV: one column per piece any submission was graded on."""
    pieces = list(
        dict.fromkeys(r.name for g in grades.values() for r in g.results if not g.refused)
    )
    header = [
        "submission",
        "name",
        "email",
        "sid",
        "semester",
        "sandbox",
        "score",
        "total",
        *pieces,
        "reason",
    ]
    table = []
    for name, g in grades.items():
        points = {r.name: f"{r.points:g}" for r in g.results}
        person = who.get(name, {})
        table.append(
            [
                name,
                person.get("name", ""),
                person.get("email", ""),
                person.get("sid", ""),
                "" if g.refused else g.semester.name,
                g.protection_kind,
                f"{g.score:g}",
                f"{g.total:g}",
                *(points.get(p, "") for p in pieces),
                g.refused,
            ]
        )
    return header, table


def grade_all(folder: Path, labels, config: dict, semester, protection, jobs: int) -> dict:
    """{submission name: Grade}, graded ``jobs`` at a time (each of its pieces in turn)."""
    from tqdm import tqdm

    paths = submissions(folder)

    def one(path: Path) -> grader.Grade:
        return grader.grade_path(path, labels, config, semester, protection, workers=1)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(tqdm(pool.map(one, paths), total=len(paths), unit="submission"))
    return {p.name: g for p, g in zip(paths, done)}


def main(argv=None) -> int:
    p = argument_parser("python -m grading batch", __doc__)
    p.add_argument("folder", help="Gradescope's export: submission_<id>/ folders")
    p.add_argument("--csv", required=True, help="the grades to write, one row per submission")
    p.add_argument("--semester", default=None, choices=semesters.names())
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions at once")
    p.add_argument("--data_dir", default=None, help="holds cifar-10-batches-py/ (the test labels)")
    p.add_argument("--labels", default=None, help="the CIFAR-10 test labels as a .npy")
    p.add_argument("--unsafe", action="store_true", help="grade without a sandbox")
    args = p.parse_args(argv)

    def body() -> int:
        folder = Path(args.folder)
        if not folder.is_dir():
            raise UserError(f"{folder} is not a folder: pass Gradescope's export folder")
        if args.jobs < 1:
            raise UserError(f"--jobs must be at least 1, got {args.jobs}")
        writable_file(args.csv)
        config = grader.load_config()
        protection = sandbox.available(args.unsafe)
        labels = grader.cifar_labels(args.data_dir, args.labels)
        grades = grade_all(folder, labels, config, args.semester, protection, args.jobs)
        header, table = rows(grades, students(folder))
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *table])
        write_text(args.csv, buffer.getvalue())
        refused = sum(1 for g in grades.values() if g.refused)
        print(f"wrote {args.csv}: {len(table)} submissions ({refused} not gradable)")
        return 0

    return run_main(body, mistakes=(sandbox.NoProtection,))

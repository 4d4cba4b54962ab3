"""Grading a whole course: ``python -m grading batch FOLDER --csv grades.csv``.

FOLDER is Gradescope's export of an assignment's submissions: a ``submission_<id>/`` folder per
submission and ``submission_metadata.yml`` naming who made each (any other folder of folders
works too, each subfolder a submission). Submissions are graded in parallel, one piece per core
at a time, behind a progress bar; the CSV has one row per submission (its id, its students,
the semester and sandbox used, the score) and one column per piece. A submission that cannot
be graded, or on which the grader fails for any reason, is a row with its reason, never a stop.
Rows are written as submissions are graded: a batch stopped by Ctrl+C or SIGTERM keeps every
row graded before the stop (exit 130 or 143, one line saying so). Text cells are printable and
never start a spreadsheet formula.
"""

import csv
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grading import grader, sandbox, semesters
from grading.text import printable
from plumbing.errors import Stopped, UserError, argument_parser, run_main
from plumbing.files import writable_file
from plumbing.settings import read as read_settings

METADATA = "submission_metadata.yml"


def submissions(folder: Path) -> list[Path]:
    """Every submission folder (or file) in ``folder``, in a stable order."""
    found = sorted(p for p in folder.iterdir() if p.name != METADATA and not p.name.startswith("."))
    if not found:
        raise UserError(f"{folder} holds no submissions: pass Gradescope's export folder")
    return found


def students(folder: Path) -> dict[str, dict]:
    """{submission folder name: {"name", "email", "sid"}} from Gradescope's metadata (empty
    when there is none, or it cannot be read: it is a file of the export, trusted no more than
    a submission)."""
    path = folder / METADATA
    try:
        meta = read_settings(path) if path.is_file() else {}
    except Exception:  # noqa: BLE001 - malformed metadata costs the names, never the batch
        return {}
    out = {}
    for key, entry in (meta if isinstance(meta, dict) else {}).items():
        entry = entry if isinstance(entry, dict) else {}
        people = entry.get(":submitters") or entry.get("submitters") or []
        people = [p for p in people if isinstance(p, dict)] if isinstance(people, list) else []
        out[str(key)] = {k: _joined(people, k) for k in ("name", "email", "sid")}
    return out


def _joined(people: list, key: str) -> str:
    """One field of every submitter (Gradescope writes its keys as Ruby symbols, ":name")."""
    return "; ".join(str(p.get(f":{key}", p.get(key, ""))) for p in people)


def cell(value) -> str:
    """A CSV cell as spreadsheets should show it: printable, bounded, and never a formula (a
    text beginning with =, +, -, @, a tab or a carriage return gets a leading quote, as OWASP
    recommends)."""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return printable(text, 300)


def columns(semester: str | None) -> list[str]:
    """The pieces' columns: the chosen semester's, or every semester's, in the handouts' order."""
    layouts = semesters.load()
    chosen = [layouts[semester]] if semester else layouts.values()
    return list(dict.fromkeys(p for s in chosen for p in s.pieces))


HEADER = ["submission", "name", "email", "sid", "semester", "sandbox", "score", "total"]


def row(name: str, g: grader.Grade, person: dict, pieces: list[str]) -> list[str]:
    """One submission's row: who, the semester and sandbox used, the score, each piece's points
    (empty when it was not graded), and why it could not be graded at all."""
    points = {r.name: f"{r.points:g}" for r in g.results}
    cells = [
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
    return [cell(c) for c in cells]


class Interrupted(Exception):
    def __init__(self, signum: int):
        self.signum = signum


def _interrupt(signum, frame):
    raise Interrupted(signum)


def grade_all(folder: Path, config: dict, options, write) -> int:
    """Grade every submission, ``jobs`` at a time (each of its pieces in turn), calling
    ``write(name, grade)`` in the export's order as soon as each is graded; a submission that
    fails for any reason is a grade with its reason. Returns how many were graded; a signal
    stops the rest (the sandboxes running are stopped too)."""
    from tqdm import tqdm

    paths, labels, semester, protection, jobs = (submissions(folder), *options)

    def one(path: Path) -> grader.Grade:
        try:
            return grader.grade_path(path, labels, config, semester, protection, workers=1)
        except grader.MissingLabels as e:  # a hand-in, and no labels: said on its row
            return grader.refused(str(e), protection)
        except Exception as e:  # noqa: BLE001 - one submission's failure is its row, not a stop
            return grader.refused(f"the grader failed on it ({type(e).__name__}: {e})", protection)

    done = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, p) for p in paths]
        try:
            for path, future in tqdm(zip(paths, futures), total=len(paths), unit="submission"):
                write(path.name, future.result())
                done += 1
        except BaseException:
            sandbox.STOP.set()  # the runs in progress end now; the rest never start
            for future in futures:
                future.cancel()
            raise
    return done


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
        return _batch(folder, config, (labels, args.semester, protection, args.jobs), args.csv)

    return run_main(body, mistakes=(sandbox.NoProtection,))


def _batch(folder: Path, config: dict, options, path: str) -> int:
    """Grade the export into the CSV at ``path``, a row written as each submission is graded,
    so that a stopped batch (Ctrl+C, SIGTERM) keeps every row graded before the stop."""
    who, pieces, total = students(folder), columns(options[1]), len(submissions(folder))
    counts = {"rows": 0, "refused": 0}
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*HEADER, *pieces, "reason"])
        f.flush()

        def write(name: str, g: grader.Grade) -> None:
            out.writerow(row(name, g, who.get(name, {}), pieces))
            f.flush()
            counts["rows"] += 1
            counts["refused"] += bool(g.refused)

        handlers = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            grade_all(folder, config, options, write)
        except Interrupted as e:
            raise Stopped(
                f"stopped after {counts['rows']} of {total} submissions: {path} holds their rows; "
                "grade the rest by running the command again on a folder without them",
                e.signum,
            ) from None
        finally:
            for s, handler in handlers.items():
                signal.signal(s, handler)
    print(f"wrote {path}: {counts['rows']} submissions ({counts['refused']} not gradable)")
    return 0

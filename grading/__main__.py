"""python -m grading PATH [--semester A|hw3|B|C|old] [--json results.json] [--data_dir DIR | --labels FILE.npy] [--unsafe]
python -m grading batch FOLDER --csv grades.csv [--semester ...] [--jobs N]
python -m grading bundle --output autograder.zip [--data_dir DIR] [--semester hw3]
python -m grading starter --output DIR
python -m grading reference --output hw3.zip [--data_dir DIR]

Grades a student's ``neural_networks/`` folder, ``hw3/`` folder or ``hw3.zip`` against the
reference, each piece in its own sandbox (grading/sandbox.py), and prints a table; ``--json``
also writes Gradescope's results.json. The semester's handout (grading/semesters.yaml) is
recognised from the package's files, or chosen with ``--semester``; the first lines say which,
and which sandbox was in force. Without namespaces or root, students' code is not run unless
``--unsafe`` is given. The grader exits 0 whenever it could grade: a broken submission costs
points, not the run. A path it cannot grade at all (missing, no package, a hostile zip) is one
line and exit status 2 (with ``--json``, a results.json that says so), as is a results path that
cannot be written, checked before any grading. ``batch`` grades a folder of submissions
(grading/batch.py), ``bundle`` writes the zip Gradescope takes (grading/bundle.py), ``starter``
the students' starter (grading/starter.py), ``reference`` a full-marks hand-in to try the
grader on (grading/reference.py). A hand-in's predictions.csv with no CIFAR-10 test labels to
score it is an error (exit 2), never a silent 0.
"""

import os
import resource
import sys
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before numpy loads: the grader's arrays are small, and
    # BLAS threads beside the threads that start sandboxes can hang a fork

from grading import grader, sandbox, semesters  # noqa: E402 - after the thread environment
from plumbing.errors import UserError, argument_parser, run_main  # noqa: E402
from plumbing.files import writable_file, write_json  # noqa: E402


def limit_the_grader(config: dict) -> None:
    """The grader's own process: bounded memory and file size, whatever a submission does."""
    mb = 2**20
    for kind, key in ((resource.RLIMIT_AS, "memory_mb"), (resource.RLIMIT_FSIZE, "output_mb")):
        want = config["grader"][key] * mb
        soft, hard = resource.getrlimit(kind)
        if soft == resource.RLIM_INFINITY or soft > want:
            resource.setrlimit(kind, (want, hard))


def parser(prog: str = "python -m grading"):
    p = argument_parser(prog, __doc__)
    p.add_argument("path", help="hw3.zip, an hw3/ folder or a neural_networks/ folder")
    p.add_argument(
        "--semester",
        default=None,
        choices=semesters.names(),
        help="the handout's layout (default: recognised from the package's files)",
    )
    p.add_argument("--json", default=None, help="also write Gradescope's results.json here")
    p.add_argument("--data_dir", default=None, help="holds cifar-10-batches-py/ (the test labels)")
    p.add_argument("--labels", default=None, help="the CIFAR-10 test labels as a .npy")
    p.add_argument(
        "--unsafe",
        action="store_true",
        help="grade even where no sandbox is available (trusted code only)",
    )
    p.add_argument(
        "--sandbox",
        default="auto",
        choices=sandbox.KINDS,
        help="the protection to use (default: the strongest the host allows)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds a piece may take (default: grading/config.yaml's limits.seconds)",
    )
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["bundle"], ["starter"], ["batch"], ["reference"]):
        from grading import batch, bundle, reference, starter

        sub = {"bundle": bundle, "starter": starter, "batch": batch, "reference": reference}
        return sub[argv[0]].main(argv[1:])
    args = parser().parse_args(argv)

    def body() -> int:
        config = grader.load_config()
        if args.timeout is not None:
            if not args.timeout > 0:
                raise UserError(
                    f"--timeout must be a positive number of seconds, got {args.timeout}"
                )
            config["limits"]["seconds"] = args.timeout
        if args.json:
            writable_file(args.json)
        limit_the_grader(config)
        protection = sandbox.available(args.unsafe, args.sandbox)
        labels = grader.cifar_labels(args.data_dir, args.labels)
        grade = grader.grade_path(Path(args.path), labels, config, args.semester, protection)
        if args.json:
            write_json(args.json, grader.gradescope(grade, config))
        if grade.refused:
            raise UserError(grade.refused)
        print(grader.table(grade))
        print(f"\ngraded in {grade.seconds:.1f} s")
        return 0

    return run_main(body, mistakes=(sandbox.NoProtection, grader.MissingLabels))


if __name__ == "__main__":
    sys.exit(main())

"""python -m grading PATH [--semester A|B|C|old] [--json results.json] [--data_dir DIR | --labels FILE.npy]
python -m grading bundle --output autograder.zip [--data_dir DIR]
python -m grading starter --output DIR

Grades a student's ``neural_networks/`` folder, ``hw3/`` folder or ``hw3.zip`` against the
reference, each piece in its own sandbox (grading/sandbox.py), and prints a table; ``--json``
also writes Gradescope's results.json. The semester's handout (grading/semesters.yaml) is
recognised from the package's files, or chosen with ``--semester``; the first line says which. The grader itself exits 0 whenever it could grade: a
broken submission costs points, not the run. A path it cannot grade at all (missing, no
package, a hostile zip) is one line and exit status 2 (with ``--json``, a results.json that
says so). ``bundle`` writes the zip Gradescope takes (grading/bundle.py); ``starter`` the
students' starter package (grading/starter.py).
"""

import sys
import tempfile
from pathlib import Path

from commands.entry import UserError, argument_parser, run_main
from grading import grader, semesters
from grading.submission import SubmissionError, locate
from lightning_hw.io import output_file, write_json


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["bundle"], ["starter"]):
        from grading import bundle, starter

        return bundle.main(argv[1:]) if argv[0] == "bundle" else starter.main(argv[1:])
    p = argument_parser("python -m grading", __doc__)
    p.add_argument("path", help="hw3.zip, an hw3/ folder or a neural_networks/ folder")
    p.add_argument(
        "--semester",
        default=None,
        choices=semesters.names(),
        help="the handout's layout (default: recognised from the package's files)",
    )
    p.add_argument("--json", default=None, help="also write Gradescope's results.json here")
    p.add_argument("--data_dir", default=None, help="holds cifar-10-batches-py/ (the test labels)")
    p.add_argument(
        "--labels", default=None, help="the CIFAR-10 test labels as a .npy (the bundle's)"
    )
    args = p.parse_args(argv)

    def body() -> int:
        if args.json:
            output_file(args.json)
        with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
            try:
                submission = locate(Path(args.path), Path(scratch))
            except SubmissionError as e:
                if args.json:  # Gradescope still gets its results.json
                    write_json(args.json, grader.gradescope(grader.failed_result(str(e))))
                raise UserError(str(e)) from None
            labels = grader.cifar_labels(args.data_dir, args.labels)
            grade = grader.grade(submission, labels, semester=args.semester)
        print(grader.table(grade))
        print(f"\ngraded in {grade.seconds:.1f} s")
        if args.json:
            write_json(args.json, grader.gradescope(grade))
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())

"""The zip Gradescope's autograder takes: ``python -m grading bundle --output autograder.zip``.

setup.sh          Gradescope runs it once, as root, to build the image: the system's Python,
                  venv and bubblewrap, then a virtual environment at /autograder/venv with
                  requirements.txt (PYTHON=... picks the interpreter, SETUP_APT=0 skips apt)
run_autograder    grades /autograder/submission into /autograder/results/results.json, with
                  the semester the bundle was made for ($AUTOGRADER replaces /autograder;
                  $GRADING_ARGS adds options, e.g. --sandbox user)
requirements.txt  one pin per line: the grader's (numpy, PyYAML) and the course's environment
                  for students' code (config.yaml, environment)
grading/          the grader, its config, the semesters and the course's cases and fixtures
numpy_nn/         the reference, which every piece is compared with
plumbing/         the ground floor the grader's command line uses
cifar10_test_labels.npy    the official CIFAR-10 test labels, for predictions.csv

Nothing else: the grader's code imports only these, and run_autograder makes the bundle's
folder unreadable to other users before it grades (where students' code runs as a sandbox
user, it cannot read the reference, the fixtures or the labels).
"""

import importlib.metadata
import io
import zipfile
from pathlib import Path

import numpy as np

from grading import grader, semesters
from plumbing.errors import UserError, argument_parser, run_main
from plumbing.files import atomic_path, output_file

ROOT = Path(__file__).resolve().parents[1]
GRADER_NEEDS = ("numpy", "pyyaml")  # what the grader itself imports
RUN = """#!/usr/bin/env bash
# Gradescope runs this; AUTOGRADER=/some/folder tries it locally on a folder laid out alike.
set -u
root="${{AUTOGRADER:-/autograder}}"
python="$root/venv/bin/python"
[ -x "$python" ] || python=python3
mkdir -p "$root/results"
chmod 700 "$root/source"  # a sandbox user running students' code cannot read the grader
cd "$root/source"
"$python" -m grading "$root/submission" --semester {semester} --labels cifar10_test_labels.npy --json "$root/results/results.json" ${{GRADING_ARGS:-}}
exit 0  # a submission that cannot be graded has its reason in results.json
"""
SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the image (base image: Ubuntu 24.04).
set -eu
root="${AUTOGRADER:-/autograder}"
if [ "${SETUP_APT:-1}" = 1 ]; then
  apt-get update -qq
  apt-get install -y -qq python3 python3-venv python3-pip bubblewrap
fi
"${PYTHON:-python3}" -m venv "$root/venv"
"$root/venv/bin/python" -m pip install --quiet -r "$root/source/requirements.txt"
"""


def requirements(config: dict | None = None) -> str:
    """requirements.txt: one ``name==version`` per line, the versions this grader runs with."""
    config = config or grader.load_config()
    names = dict.fromkeys([*GRADER_NEEDS, *config["environment"]])
    return "".join(f"{n}=={importlib.metadata.version(n)}\n" for n in names)


def code() -> dict[str, bytes]:
    """The grader, the ground floor and the reference, as the repository holds them."""
    out = {}
    for folder, suffixes in (
        ("grading", (".py", ".yaml", ".npz")),
        ("plumbing", (".py",)),
        ("numpy_nn", (".py", ".npy")),
    ):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in suffixes and "__pycache__" not in path.parts:
                out[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    return out


def members(labels: np.ndarray, semester: str = "hw3") -> dict[str, bytes]:
    out = code()
    buffer = io.BytesIO()
    np.save(buffer, labels.astype(np.int64))
    out["cifar10_test_labels.npy"] = buffer.getvalue()
    out["run_autograder"] = RUN.format(semester=semester).encode()
    out["setup.sh"] = SETUP.encode()
    out["requirements.txt"] = requirements().encode()
    return out


def write(output: Path, labels: np.ndarray, semester: str = "hw3") -> int:
    files = members(labels, semester)
    with atomic_path(output) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            mode = 0o755 if name in ("run_autograder", "setup.sh") else 0o644
            info.external_attr, info.compress_type = (0o100000 | mode) << 16, zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return len(files)


def main(argv=None) -> int:
    p = argument_parser("python -m grading bundle", __doc__)
    p.add_argument("--output", default="autograder.zip", help="the zip to write")
    p.add_argument("--data_dir", default=None, help="holds cifar-10-batches-py/ (the test labels)")
    p.add_argument(
        "--semester",
        default="hw3",
        choices=semesters.names(),
        help="the handout the assignment uses (default: this project's, hw3)",
    )
    args = p.parse_args(argv)

    def body() -> int:
        output_file(args.output)
        labels = grader.cifar_labels(args.data_dir)
        if labels is None:
            raise UserError(grader.NO_LABELS)
        n = write(Path(args.output), labels, args.semester)
        print(
            f"wrote {args.output}: {n} files (grader, reference, fixtures, labels); it grades "
            f"every submission as semester {args.semester} (--semester to choose another)"
        )
        return 0

    return run_main(body)

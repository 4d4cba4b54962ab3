"""The zip Gradescope's autograder takes: ``python -m grading bundle --output autograder.zip``.

setup.sh          installs the pinned numpy and PyYAML (Gradescope runs it once per image)
run_autograder    grades /autograder/submission into /autograder/results/results.json
                  ($AUTOGRADER replaces /autograder, to try it locally)
requirements.txt  the same pins
grading/          the grader, its config and the course's fixtures (grading/course/)
numpy_nn/         the reference, which every piece is compared with
commands/, lightning_hw/   the two small modules the grader's command line uses
cifar10_test_labels.npy    the official CIFAR-10 test labels, for predictions.csv
"""

import importlib.metadata
import io
import zipfile
from pathlib import Path

import numpy as np

from commands.entry import UserError, argument_parser, run_main
from grading import grader, pieces
from lightning_hw.io import atomic_path, output_file

ROOT = Path(__file__).resolve().parents[1]
CODE = [
    "grading/__init__.py",
    "grading/__main__.py",
    "grading/child.py",
    "grading/sandbox.py",
    "grading/pieces.py",
    "grading/grader.py",
    "grading/submission.py",
    "grading/config.yaml",
    "grading/judge.py",
    "grading/semesters.py",
    "grading/semesters.yaml",
    "commands/__init__.py",
    "commands/entry.py",
    "lightning_hw/__init__.py",
    "lightning_hw/io.py",
    "lightning_hw/paths.py",
]
PINNED = ("numpy", "pyyaml")
RUN = """#!/usr/bin/env bash
# Gradescope runs this; AUTOGRADER=/some/folder tries it locally on a folder laid out alike.
set -u
root="${AUTOGRADER:-/autograder}"
mkdir -p "$root/results"
cd "$root/source"
python3 -m grading "$root/submission" --labels cifar10_test_labels.npy --json "$root/results/results.json"
exit 0  # a submission that cannot be graded has its reason in results.json
"""
SETUP = """#!/usr/bin/env bash
set -eu
apt-get install -y python3 python3-pip >/dev/null 2>&1 || true
pip3 install -r /autograder/source/requirements.txt
"""


def requirements() -> str:
    pins = [r.split(";")[0].strip() for r in importlib.metadata.requires("nn-hw")]
    return "\\n".join(p for p in pins if p.split("==")[0].lower() in PINNED) + "\\n"


def members(labels: np.ndarray) -> dict[str, bytes]:
    out = {name: (ROOT / name).read_bytes() for name in CODE}
    for path in sorted((ROOT / "numpy_nn").rglob("*")):
        if path.suffix in (".py", ".npy"):
            out[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    out["grading/course/cases.py"] = (pieces.COURSE / "cases.py").read_bytes()
    for fixture in sorted(pieces.FIXTURE_DIR.glob("*.npz")):
        out[f"grading/course/data/{fixture.name}"] = fixture.read_bytes()
    buffer = io.BytesIO()
    np.save(buffer, labels.astype(np.int64))
    out["cifar10_test_labels.npy"] = buffer.getvalue()
    out.update({"run_autograder": RUN.encode(), "setup.sh": SETUP.encode()})
    out["requirements.txt"] = requirements().encode()
    return out


def write(output: Path, labels: np.ndarray) -> int:
    files = members(labels)
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
    args = p.parse_args(argv)

    def body() -> int:
        output_file(args.output)
        labels = grader.cifar_labels(args.data_dir)
        if labels is None:
            raise UserError(
                "no CIFAR-10 test labels: pass --data_dir, a folder holding cifar-10-batches-py/"
            )
        n = write(Path(args.output), labels)
        print(f"wrote {args.output}: {n} files (grader, reference, fixtures, labels)")
        return 0

    return run_main(body)

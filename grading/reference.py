"""A full-marks hand-in to try the grader on: ``python -m grading reference --output hw3.zip``.

hw3.zip as a perfect student of this project's semester hands it in: ``hw3/neural_networks/``
(the reference, numpy_nn, under the handout's name), ``train_ffnn.py``, a notebook run to its end
with its outputs, and ``predictions.csv`` made from the CIFAR-10 test labels themselves (so it
scores 100%: a tool for staff, who hold the labels). ``python -m grading hw3.zip`` and the
Gradescope bundle give it every point; the students' starter (``python -m grading starter``)
gets none of the code's.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from grading import grader
from plumbing.errors import UserError, argument_parser, run_main
from plumbing.files import atomic_path, output_file
from plumbing.handout import handout_names

ROOT = Path(__file__).resolve().parents[1]
CELL = {  # the notebook: one cell, run, with its output
    "cell_type": "code",
    "execution_count": 1,
    "metadata": {},
    "source": ["print('the reference hand-in')"],
    "outputs": [{"output_type": "stream", "name": "stdout", "text": ["the reference hand-in\n"]}],
}


def members(labels: np.ndarray) -> dict[str, bytes]:
    """hw3.zip's files, by path."""
    out = {}
    for path in sorted((ROOT / "numpy_nn").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            name = f"hw3/neural_networks/{path.relative_to(ROOT / 'numpy_nn').as_posix()}"
            data = path.read_bytes()
            out[name] = handout_names(data.decode()).encode() if path.suffix == ".py" else data
    out["hw3/train_ffnn.py"] = handout_names((ROOT / "train_ffnn.py").read_text()).encode()
    notebook = {"cells": [CELL], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out["hw3/CS189_HW_NN.ipynb"] = json.dumps(notebook, indent=1).encode()
    rows = "".join(f"{i},{int(c)}\n" for i, c in enumerate(labels, start=1))
    out["hw3/predictions.csv"] = ("Id,Category\n" + rows).encode()
    return out


def write(output: Path, labels: np.ndarray) -> int:
    with atomic_path(output) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        files = members(labels)
        for name, data in files.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return len(files)


def main(argv=None) -> int:
    p = argument_parser("python -m grading reference", __doc__)
    p.add_argument("--output", default="hw3.zip", help="the zip to write")
    p.add_argument("--data_dir", default=None, help="holds cifar-10-batches-py/ (the test labels)")
    p.add_argument("--labels", default=None, help="the CIFAR-10 test labels as a .npy")
    args = p.parse_args(argv)

    def body() -> int:
        output_file(args.output)
        labels = grader.cifar_labels(args.data_dir, args.labels)
        if labels is None:
            raise UserError(grader.NO_LABELS)
        n = write(Path(args.output), labels)
        print(f"wrote {args.output}: {n} files, a full-marks hand-in to try the grader on")
        return 0

    return run_main(body)

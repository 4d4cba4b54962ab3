"""Train a Lightning experiment from its config; see lightning_hw/cli.py.

python train.py --config configs/iris_numpy.yaml
python train.py --config configs/iris_numpy.yaml --trainer.max_epochs 5 --model.lr 0.05
python train.py compare --config configs/iris_compare.yaml
"""

import os
import re
import sys


def _uses_numpy_backend(argv) -> bool:
    """Does this run put numpy_nn layers inside torch (a config with backend: numpy, or compare)?"""
    if argv[:1] == ["compare"]:
        return True
    texts = [a for a in argv if "backend" in a and "numpy" in a]
    for i, a in enumerate(argv):
        path = (
            a.split("=", 1)[1]
            if a.startswith("--config=")
            else (argv[i + 1] if a == "--config" and i + 1 < len(argv) else None)
        )
        if path and os.path.isfile(path):
            with open(path) as f:
                texts.append(f.read())
    return any(re.search(r"backend:?\s*['\"]?numpy", t) for t in texts)


if _uses_numpy_backend(sys.argv[1:]):
    # numpy's BLAS threads and torch's OpenMP threads take turns in the numpy backend; OpenMP's
    # default spin-waiting between torch ops starves numpy of cores (3.4x slower steps on 2 cores,
    # docs/benchmarks.md). Passive waiting must be chosen before torch is imported.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from lightning_hw.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

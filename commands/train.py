"""``python train.py`` (also ``nn-train``): train a Lightning experiment from its config, or
compare twins.

    python train.py --config configs/iris_numpy.yaml [--trainer.max_epochs 5] [--model.optimizer.lr 0.05]
    python train.py --config configs/iris_numpy.yaml --print_config
    python train.py compare --config configs/iris_compare.yaml

This module imports nothing heavy: the process environment must be set before numpy and torch load.
"""

import os
import sys

from commands.allocator import keep_freed_memory
from commands.configs import Experiment
from commands.entry import run_main
from commands.quiet import quiet_lightning

# The process environment of a numpy-backed run, set before numpy and torch load (one home:
# the benchmarks' child processes use it too).
NUMPY_BACKEND_ENV = {
    # numpy's BLAS and torch's OpenMP threads take turns in the numpy backend; OpenMP's default
    # spin-waiting between torch ops starves numpy of cores (3.4x slower steps on 2 cores,
    # docs/benchmarks.md). Passive waiting must be chosen before torch loads.
    "OMP_WAIT_POLICY": "PASSIVE",
    # BLAS on one core per call: numpy_nn then shares each layer's batch out over the cores
    # itself, products and elementwise passes together (numpy_nn/threads.py; the CIFAR CNN's
    # numpy step ~22% faster, docs/benchmarks.md section 12). Read when numpy loads. torch's
    # own BLAS (MKL, oneDNN) does not read it.
    "OPENBLAS_NUM_THREADS": "1",
}


def prepare_environment(numpy_backed: bool) -> None:
    """Settings that must precede importing numpy, torch and Lightning; ``numpy_backed``: the
    run trains numpy_nn's layers through the bridge (``NUMPY_BACKEND_ENV``; a variable the
    user set wins)."""
    if numpy_backed:
        for name, value in NUMPY_BACKEND_ENV.items():
            os.environ.setdefault(name, value)
    keep_freed_memory()  # no page faults on each step's fresh buffers (commands/allocator.py)
    quiet_lightning()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["compare"]:
        prepare_environment(numpy_backed=True)
        from commands.compare import main as compare_main

        return compare_main(args[1:])
    return run_main(lambda: train(Experiment.from_argv(args)))  # the one reading of the files


def train(experiment: Experiment) -> int:
    """Train ``experiment`` (as read at the entry), the process environment set first."""
    prepare_environment(numpy_backed=experiment.backend == "numpy")
    from commands.cli import main as cli_main

    return cli_main(experiment)

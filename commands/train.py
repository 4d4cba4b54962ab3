"""``python train.py`` (also ``nn-train``): train a Lightning experiment from its config, or
compare twins.

    python train.py --config configs/iris_numpy.yaml [--trainer.max_epochs 5] [--model.optimizer.lr 0.05]
    python train.py --config configs/iris_numpy.yaml --print_config
    python train.py compare --config configs/iris_compare.yaml

This module imports nothing heavy: the process environment must be set before torch loads.
"""

import logging
import os
import sys
import warnings

from commands.allocator import keep_freed_memory
from commands.configs import Experiment
from commands.entry import run_main


class _NoAdvert(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing litlogger" line, printed at every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def prepare_environment(numpy_backed: bool) -> None:
    """Settings that must precede importing torch and Lightning; ``numpy_backed``: the run
    trains numpy_nn's layers through the bridge."""
    if numpy_backed:
        # numpy's BLAS threads and torch's OpenMP threads take turns in the numpy backend;
        # OpenMP's default spin-waiting between torch ops starves numpy of cores (3.4x slower
        # steps on 2 cores, docs/benchmarks.md). Passive waiting must be chosen before torch loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    keep_freed_memory()  # no page faults on each step's fresh buffers (commands/allocator.py)
    # jsonargparse's deprecation notices concern Lightning's calls into it, not the user's config.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
    # the parameter count is exact; only its size in MB is estimated at 32 bits
    warnings.filterwarnings("ignore", message=r"Precision .* is not supported by the model summary")
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(_NoAdvert())


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["compare"]:
        prepare_environment(numpy_backed=True)
        from commands.compare import main as compare_main

        return compare_main(args[1:])
    return run_main(lambda: _train(args))


def _train(args: list[str]) -> int:
    experiment = Experiment.from_argv(args)  # the one reading of the config files
    prepare_environment(numpy_backed=experiment.backend == "numpy")
    from commands.cli import main as cli_main

    return cli_main(experiment)

"""``python train_ffnn.py`` (also ``nn-train-ffnn``): numpy_nn's one-hidden-layer network on
Iris, one run or the lr x hidden sweep.

    python train_ffnn.py                       # the defaults: numpy_nn.experiment.DEFAULTS
    python train_ffnn.py --lr 0.1 --hidden 50 --activation tanh
    python train_ffnn.py --sweep               # lr {0.001, 0.01, 0.1} x hidden {5, 25, 100}

Each run is saved to experiments/<run name>/ (hyperparameters.json, log.json, results.json,
parameters.npz, loss.png, error.png); the sweep writes experiments/sweep/results.md and loss.png.
"""

import argparse
import os
from dataclasses import replace
from pathlib import Path

from commands.entry import argument_parser, run_main
from numpy_nn.experiment import DEFAULTS, Options, sweep
from plumbing.files import staged_folder
from train_ffnn import train  # the handout's script: the one Iris run

# numpy_nn says "bad input" with these: a bad value, a missing or damaged file, a diverged loss
NUMPY_MISTAKES = (ValueError, OSError, FloatingPointError)


def parse_args(argv=None) -> argparse.Namespace:
    d = DEFAULTS
    p = argument_parser("train_ffnn.py", __doc__)
    p.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr})")
    p.add_argument(
        "--hidden", type=int, default=d.hidden, help=f"hidden units (default {d.hidden})"
    )
    p.add_argument(
        "--momentum", type=float, default=d.momentum, help=f"SGD momentum (default {d.momentum})"
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    p.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        help=f"mini-batch size (default {d.batch_size})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help=f"seed for weights and batch order (default {d.seed})",
    )
    p.add_argument(
        "--activation", default=d.activation, help=f"hidden activation (default {d.activation})"
    )
    p.add_argument(
        "--sweep", action="store_true", help="run the lr x hidden sweep instead of one run"
    )
    p.add_argument(
        "--save-dir",
        default=os.environ.get("EXPERIMENTS_DIR", "experiments"),
        help="where runs are saved (default experiments/, or $EXPERIMENTS_DIR)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def print_results(r: dict) -> None:
    print(f"{'split':<6} {'loss':>8} {'error':>7}")
    for split in ("train", "val", "test"):
        print(f"{split:<6} {r[split + '_loss']:>8.4f} {r[split + '_error']:>7.3f}")
    print(f"saved {r['run_dir']}/")


def _moved(path: str, stage: Path, save_dir: str) -> str:
    """Where ``path``, written under the staging folder, lies now under ``save_dir``."""
    return os.path.join(save_dir, os.path.relpath(path, stage))


def run(options: Options, save_dir: str, sweep_all: bool = False, progress: bool = False) -> int:
    """One run of ``train_ffnn.py``'s handout steps (or, ``sweep_all``, the lr x hidden sweep)
    saved under ``save_dir``, its results printed; a mistake is one line and exit status 2."""

    def body() -> int:
        options.validate()
        # Written aside and moved into save_dir when whole: a failed run (a full disk, Ctrl-C)
        # leaves no run folder without its results.json, and an earlier run as it was.
        with staged_folder(save_dir) as stage:
            if not sweep_all:
                result = train(options, str(stage), progress)
            else:
                result = sweep(train, options, save_dir=str(stage), progress=progress)
        if not sweep_all:
            print_results({**result, "run_dir": _moved(result["run_dir"], stage, save_dir)})
            return 0
        best, where = result["best"]["options"], _moved(result["dir"], stage, save_dir)
        print(result["table"])
        print(f"\nbest by validation error: lr={best['lr']:g}, hidden={best['hidden']}")
        print(f"saved {where}/results.md and {where}/loss.png")
        return 0

    return run_main(body, NUMPY_MISTAKES)


def main(argv=None) -> int:
    args = parse_args(argv)
    given = ("lr", "hidden", "momentum", "epochs", "batch_size", "seed", "activation")
    options = replace(DEFAULTS, **{k: getattr(args, k) for k in given})
    return run(options, args.save_dir, args.sweep, progress=not args.no_progress)

"""Train the numpy_nn one-hidden-layer network on Iris, or sweep lr x hidden.

    python train_ffnn.py                       # defaults from numpy_nn/experiment.py
    python train_ffnn.py --lr 0.1 --hidden 50 --activation tanh
    python train_ffnn.py --sweep               # lr {0.001, 0.01, 0.1} x hidden {5, 25, 100}

Each run is saved to experiments/<run name>/ (hyperparameters.json, log.json, results.json,
parameters.npz, loss.png, error.png); the sweep writes experiments/sweep/results.md and loss.png.
"""

import argparse
import os
import sys
from dataclasses import replace

from numpy_nn.experiment import DEFAULTS, run, sweep


def parse_args(argv=None) -> argparse.Namespace:
    d = DEFAULTS
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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


def main(argv=None) -> int:
    args = parse_args(argv)
    options = replace(
        DEFAULTS,
        lr=args.lr,
        hidden=args.hidden,
        momentum=args.momentum,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        activation=args.activation,
    )
    try:
        options.validate()
        if args.sweep:
            result = sweep(options, save_dir=args.save_dir, progress=not args.no_progress)
            best = result["best"]["options"]
            print(result["table"])
            print(f"\nbest by validation error: lr={best['lr']:g}, hidden={best['hidden']}")
            print(f"saved {result['dir']}/results.md and {result['dir']}/loss.png")
            return 0
        r = run(options, save_dir=args.save_dir, progress=not args.no_progress)
    except (ValueError, FloatingPointError, OSError) as e:
        if os.environ.get("NN_DEBUG"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{'split':<6} {'loss':>8} {'error':>7}")
    for split in ("train", "val", "test"):
        print(f"{split:<6} {r[split + '_loss']:>8.4f} {r[split + '_error']:>7.3f}")
    print(f"saved {r['run_dir']}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python train_cnn.py`` (also ``nn-train-cnn``): a small CNN on Fashion-MNIST in numpy_nn's
own layers and loop (``numpy_nn/fashion_cnn.py``: the network and every hyperparameter).

    python train_cnn.py [--epochs 8] [--lr 0.001] [--batch-size 64] [--data-dir DIR] [--limit N]
"""

import os

from commands.allocator import keep_freed_memory
from commands.entry import argument_parser, run_main
from commands.ffnn import NUMPY_MISTAKES
from numpy_nn.fashion_cnn import BATCH_SIZE, EPOCHS, OPTIMIZER, SEED, run
from plumbing.files import output_folder


def main(argv=None) -> int:
    p = argument_parser("train_cnn.py", __doc__)
    p.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"default {BATCH_SIZE}")
    p.add_argument("--lr", type=float, default=OPTIMIZER["lr"], help=f"default {OPTIMIZER['lr']}")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--data-dir", default=None, help="default: $DATA_DIR, else data/")
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--save-dir", default=os.environ.get("EXPERIMENTS_DIR", "experiments"))
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    keep_freed_memory()  # reuse im2col buffers instead of page-faulting them in each step

    def body() -> int:
        output_folder(args.save_dir)  # not a file, nor under one
        r = run(
            args.epochs,
            args.batch_size,
            args.lr,
            args.seed,
            args.data_dir,
            args.limit,
            args.save_dir,
            progress=not args.no_progress,
        )
        print(
            f"test accuracy {r['test_accuracy']:.4f} (loss {r['test_loss']:.4f}), validation "
            f"{r['val_accuracy']:.4f}, {r['train_seconds']:.0f} s of training; saved {r['run_dir']}/"
        )
        return 0

    return run_main(body, NUMPY_MISTAKES)

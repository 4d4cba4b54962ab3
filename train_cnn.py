"""Train a small CNN on Fashion-MNIST with numpy_nn's own layers and loop; see commands/cnn.py.

python train_cnn.py [--epochs 5] [--lr 0.05] [--batch-size 64] [--data-dir DIR] [--limit N]
"""

import sys

from commands.cnn import main

if __name__ == "__main__":
    sys.exit(main())

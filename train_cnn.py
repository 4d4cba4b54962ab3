"""Train a small CNN on Fashion-MNIST with numpy_nn's own layers and loop; see numpy_nn/fashion_cnn.py.

python train_cnn.py [--epochs 5] [--lr 0.05] [--batch-size 64] [--data-dir DIR] [--limit N]
"""

import sys

from commands.allocator import keep_freed_memory
from numpy_nn.fashion_cnn import main

if __name__ == "__main__":
    keep_freed_memory()  # reuse im2col buffers instead of page-faulting them in each step
    sys.exit(main())

"""Train the numpy_nn one-hidden-layer network on Iris, or sweep lr x hidden.

    python train_ffnn.py                       # defaults from numpy_nn/experiment.py
    python train_ffnn.py --lr 0.1 --hidden 50 --activation tanh
    python train_ffnn.py --sweep               # lr {0.001, 0.01, 0.1} x hidden {5, 25, 100}

Each run is saved to experiments/<run name>/ (hyperparameters.json, log.json, results.json,
parameters.npz, loss.png, error.png); the sweep writes experiments/sweep/results.md and loss.png.
"""

import sys

from numpy_nn.experiment import main

if __name__ == "__main__":
    sys.exit(main())

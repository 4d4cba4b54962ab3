"""Train a Lightning experiment from its config; see commands/train.py.

python train.py --config configs/iris_numpy.yaml
python train.py --config configs/iris_numpy.yaml --trainer.max_epochs 5 --model.optimizer.lr 0.05
python train.py compare --config configs/iris_compare.yaml
"""

import sys

from commands.train import main

if __name__ == "__main__":
    sys.exit(main())

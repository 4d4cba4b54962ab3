"""Train a Lightning experiment from its config; see lightning_hw/cli.py.

python train.py --config configs/iris_numpy.yaml
python train.py --config configs/iris_numpy.yaml --trainer.max_epochs 5 --model.lr 0.05
python train.py compare --config configs/iris_compare.yaml
"""

import sys

from lightning_hw.cli import main

if __name__ == "__main__":
    sys.exit(main())

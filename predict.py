"""Write predictions.csv from a checkpoint; see commands/predict.py.

python predict.py --ckpt RUN/checkpoints/<file>.ckpt --input test.npy   (RUN: lightning_hw/runs.py)
"""

import sys

from commands.predict import main

if __name__ == "__main__":
    sys.exit(main())

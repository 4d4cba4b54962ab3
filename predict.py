"""Write predictions.csv from a checkpoint; see commands/predict.py.

python predict.py --ckpt lightning_logs/cifar_cnn/version_0/checkpoints/last.ckpt --input test.npy
"""

import sys

from commands.predict import main

if __name__ == "__main__":
    sys.exit(main())

"""Write predictions.csv from a checkpoint; see lightning_hw/predict.py.

python predict.py --ckpt lightning_logs/cifar_cnn/version_0/checkpoints/last.ckpt --input test.npy
"""

import sys

from lightning_hw.predict import main

if __name__ == "__main__":
    sys.exit(main())

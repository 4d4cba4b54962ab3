"""lightning_hw: the PyTorch Lightning half — DataModules, one Classifier LightningModule, the
networks it trains, and the bridge that runs numpy_nn's hand-derived layers inside torch."""

import os

# jsonargparse's deprecation notices are about Lightning's calls into it, not about user configs.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")

"""lightning_hw: the PyTorch Lightning half — DataModules, one Classifier LightningModule, the
networks it trains, and the bridge that runs numpy_nn's hand-derived layers inside torch."""

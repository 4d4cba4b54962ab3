"""commands: what the entry points do (train, compare, predict), on top of the training library
(lightning_hw) and numpy_nn. ``train.py`` and ``predict.py`` at the top level only call ``main``."""

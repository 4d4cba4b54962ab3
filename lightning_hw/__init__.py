"""lightning_hw: the PyTorch Lightning training library.

bridge (numpy_nn layers inside torch), networks, datamodules, the one LightningModule
(``Classifier``), callbacks, schedules and io. The entry points live in ``commands``, the course
deliverables in ``deliverables``; both import this package, never the other way round.
"""

"""What Lightning and its dependencies print that is none of the user's business, silenced once
for every command (``train.py``, ``predict.py``). Imports nothing heavy."""

import logging
import os
import warnings
from contextlib import contextmanager

RANK_ZERO = "pytorch_lightning.utilities.rank_zero"


NOISE = (  # Lightning's lines that repeat the project's own, or say nothing to the user
    "💡 Tip",  # an advert, at every run
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "IPU available:",
    "Using bfloat16 Automatic Mixed Precision",  # the project's precision line says it
    "Using 16bit Automatic Mixed Precision",
    "Loading `train_dataloader` to estimate",
    "Restoring states from the checkpoint",  # the test at the best checkpoint: said by the run
    "Loaded model weights from the checkpoint",
    "Seed set to",  # the config holds the seed; the run's hparams record it
)
SEED = "lightning_fabric.utilities.seed"


class _NoAdvert(logging.Filter):
    """Drops Lightning's lines that begin with one of ``NOISE``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOISE)


def quiet_lightning() -> None:
    """Deprecation notices about Lightning's own calls, the model summary's estimate, and the
    lines of ``NOISE``: none concerns the user's config or data."""
    # jsonargparse's deprecation notices concern Lightning's calls into it, not the user's config.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # the parameter count is exact; only its size in MB is estimated at 32 bits
    warnings.filterwarnings("ignore", message=r"Precision .* is not supported by the model summary")
    for name in (RANK_ZERO, SEED, "lightning_fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoAdvert) for f in logger.filters):
            logger.addFilter(_NoAdvert())


@contextmanager
def no_trainer_banner():
    """A Trainer made inside says nothing of the devices it found or its precision plugin
    ("GPU available: False", "Using bfloat16 Automatic Mixed Precision"): for commands whose
    output is their result (predict), not a training log. Warnings still show."""
    logger = logging.getLogger(RANK_ZERO)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)

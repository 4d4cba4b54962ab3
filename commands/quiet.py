"""What Lightning and its dependencies print that is none of the user's business, silenced once
for every command (``train.py``, ``predict.py``). Imports nothing heavy."""

import logging
import os
import warnings
from contextlib import contextmanager

RANK_ZERO = "pytorch_lightning.utilities.rank_zero"


class _NoAdvert(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing litlogger" line, printed at every run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def quiet_lightning() -> None:
    """Deprecation notices about Lightning's own calls, the model summary's estimate and the
    advert: none concerns the user's config or data."""
    # jsonargparse's deprecation notices concern Lightning's calls into it, not the user's config.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # the parameter count is exact; only its size in MB is estimated at 32 bits
    warnings.filterwarnings("ignore", message=r"Precision .* is not supported by the model summary")
    logger = logging.getLogger(RANK_ZERO)
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

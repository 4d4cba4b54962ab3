"""Where datasets live: one setting, ``data.data_dir`` in a config or the ``DATA_DIR`` variable."""

import os
from pathlib import Path

DEFAULT_DATA_DIR = "data"


class DataMissingError(RuntimeError):
    """A dataset is neither in the data directory nor downloadable."""


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$DATA_DIR``, else ``data/``."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    return Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR).expanduser()

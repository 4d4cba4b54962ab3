"""Shared fixtures. ``real_data_dir`` finds Fashion-MNIST / CIFAR-10 on disk or skips the test."""

import os
from pathlib import Path

import pytest

# What commands.train.main sets for users: jsonargparse's notices concern Lightning's calls into it.
os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def find_data_dir(dataset_folder: str):
    """$DATA_DIR if it holds the dataset, else ../shared/data if it does, else None."""
    candidates = [os.environ.get("DATA_DIR"), str(SHARED_DATA)]
    for c in candidates:
        if c and (Path(c) / dataset_folder).is_dir():
            return Path(c)
    return None


def _require(folder: str, config: str) -> Path:
    d = find_data_dir(folder)
    if d is None:
        pytest.skip(
            f"{folder} not found: set DATA_DIR to a folder holding {folder}/, "
            f"or run `python train.py --config configs/{config}` online once"
        )
    return d


@pytest.fixture
def fashion_dir() -> Path:
    return _require("FashionMNIST", "fashion_mlp.yaml")


@pytest.fixture
def cifar_dir() -> Path:
    return _require("cifar-10-batches-py", "cifar_cnn.yaml")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)

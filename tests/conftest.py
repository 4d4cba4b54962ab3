"""Shared fixtures. ``real_data_dir`` finds Fashion-MNIST / CIFAR-10 on disk or skips the test."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def find_data_dir(dataset_folder: str):
    """$DATA_DIR if it holds the dataset, else ../shared/data if it does, else None."""
    candidates = [os.environ.get("DATA_DIR"), str(SHARED_DATA)]
    for c in candidates:
        if c and (Path(c) / dataset_folder).is_dir():
            return Path(c)
    return None


@pytest.fixture
def fashion_dir() -> Path:
    d = find_data_dir("FashionMNIST")
    if d is None:
        pytest.skip(
            "Fashion-MNIST not found: set DATA_DIR to a folder holding FashionMNIST/raw, "
            "or run `python train.py --config configs/fashion_mlp.yaml` online once"
        )
    return d


@pytest.fixture
def cifar_dir() -> Path:
    d = find_data_dir("cifar-10-batches-py")
    if d is None:
        pytest.skip(
            "CIFAR-10 not found: set DATA_DIR to a folder holding cifar-10-batches-py, "
            "or run `python train.py --config configs/cifar_cnn.yaml` online once"
        )
    return d


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)

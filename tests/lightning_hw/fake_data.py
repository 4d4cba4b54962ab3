"""Tiny datasets written in the official on-disk formats (IDX for Fashion-MNIST, the pickled
batches for CIFAR-10), so the DataModules can be tested without the real data."""

import pickle
import struct
from pathlib import Path

import numpy as np

from lightning_hw.datamodules import CIFAR10DataModule


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: magic (0, 0, type 0x08 = ubyte, ndim), big-endian int32 dims, then the bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}i", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def make_fashion(root: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        for c in range(10):  # class c brightens row band c: learnable
            images[labels == c, 2 * c : 2 * c + 4, :] += 180
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root


def make_cifar(root: Path, per_batch: int = 20, n_test: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(n, offset):
        labels = [(offset + i) % 10 for i in range(n)]
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        return {
            "batch_label": "fake",
            "labels": labels,
            "data": data,
            "filenames": [f"img{offset + i}.png" for i in range(n)],
        }

    for i in range(1, 6):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(per_batch, i * per_batch), f)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(n_test, 0), f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(
            {
                "label_names": list(CIFAR10DataModule.classes),
                "num_vis": 3072,
            },
            f,
        )
    return root


def accept_fake_cifar(monkeypatch) -> None:
    """torchvision checks CIFAR-10's official MD5 sums, which our fake files cannot match."""
    import torchvision

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)

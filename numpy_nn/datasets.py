"""Datasets: the course's Iris split (shipped inside the package), MNIST and Fashion-MNIST (read from
the data directory), and mini-batch sampling, with the handout's ``Data`` and ``Dataset``.

``initialize_dataset("iris", batch_size)`` returns a ``Dataset`` with ``train``, ``validate`` and
``test`` ``Data`` objects. ``Data.sample()`` returns the next shuffled mini-batch; ``batches()``
yields an epoch of them.
"""

import math
from collections.abc import Iterator
from importlib import resources

import numpy as np

from numpy_nn.utils import one_hot, seed_or_global

IRIS_CLASSES = ("setosa", "versicolor", "virginica")
IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_SPLITS = ("train", "val", "test")  # 105 / 15 / 30 flowers: the course's own split


def load_iris() -> dict:
    """The course's Iris split, as its handout reads it from ``datasets/iris/``:
    {"train"|"val"|"test": (features (n, 4) in cm, float64; one-hot labels (n, 3), float64)}.

    The six files ship inside the package (``numpy_nn/iris/``, about 6 KB) and in hw3.zip at
    ``hw3/datasets/iris/``, the handout's path, so figures compare with the course's. They hold
    the 150 flowers of Fisher's Iris set (1936), split 105 / 15 / 30 by the course, not
    stratified. A copy of the package without them (the students' starter) reads the handout's
    ``datasets/iris/`` in the working folder, as the handout's datasets.py does.
    """
    from pathlib import Path

    folder = resources.files(__package__).joinpath("iris")
    if not folder.is_dir():
        folder = Path("datasets") / "iris"
    out = {}
    for split in IRIS_SPLITS:
        arrays = []
        for kind in ("data", "labels"):
            with folder.joinpath(f"iris_{split}_{kind}.npy").open("rb") as f:
                arrays.append(np.load(f, allow_pickle=False))
        out[split] = tuple(arrays)
    return out


class Standardizer:
    """x -> (x - mean) / std per feature, with mean and std fitted on the training set only."""

    def fit(self, X: np.ndarray) -> "Standardizer":
        self.mean = X.mean(axis=0)
        self.std = X.std(axis=0)
        self.std[self.std == 0] = 1.0
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.std


class Data:
    """One split, the handout's ``Data``: ``data`` (n, d) or images (n, h, w, c), optional one-hot
    ``labels`` (n, k), and its mini-batches.

    ``sample()`` returns the next mini-batch ``(X, Y)`` (just ``X`` without labels); the first of
    each epoch draws a new order (``shuffle()``), so ``samples_per_epoch`` calls cover every
    example once (the last batch may be smaller). ``batches()`` yields the (rest of the) epoch.
    ``reset()`` rewinds to the first epoch: the orders repeat exactly.

    Ours beyond the handout: ``seed`` fixes the orders (None: drawn from numpy's global
    generator, so the handout's ``np.random.seed(...)`` fixes them), and ``ordered=True`` keeps
    the data's own order (validation and test).
    """

    def __init__(
        self,
        data: np.ndarray,
        batch_size: int = 50,
        labels: np.ndarray | None = None,
        out_dim: int | None = None,
        seed: int | None = None,
        ordered: bool = False,
    ):
        data = np.asarray(data)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if labels is not None:
            labels = np.asarray(labels)
            if data.ndim < 2 or labels.ndim != 2 or data.shape[0] != labels.shape[0]:
                raise ValueError(
                    f"shape mismatch: data {data.shape} and one-hot labels {labels.shape} must "
                    "be (n, d) (or (n, h, w, c) images) and (n, k) with the same n"
                )
        if data.ndim < 2 or data.shape[0] == 0:
            raise ValueError(
                f"data must be a non-empty batch (n, d) or (n, h, w, c), got {data.shape}"
            )
        if np.issubdtype(data.dtype, np.number) and not np.all(np.isfinite(data)):
            raise ValueError("data contains NaN or inf: clean or impute the input first")
        self.data, self.labels = data, labels
        self.n_samples = data.shape[0]
        self.out_dim = out_dim if out_dim is not None or labels is None else labels.shape[1]
        self.batch_size = int(batch_size)
        self.samples_per_epoch = math.ceil(self.n_samples / self.batch_size)
        self.ordered = ordered
        self.seed = seed if ordered else seed_or_global(seed)
        self.reset()

    @property
    def data_(self) -> np.ndarray:
        """The handout's name for ``data``."""
        return self.data

    def reset(self) -> None:
        """Rewind to the first epoch: the next epochs repeat the orders of the first ones."""
        self.rng = np.random.default_rng(self.seed)
        self.iteration = 0
        self.order = np.arange(self.n_samples)

    def shuffle(self) -> None:
        """Draw the order of a new epoch (kept as is when ``ordered``)."""
        if not self.ordered:
            self.order = self.rng.permutation(self.n_samples)

    def sample(self):
        """The next mini-batch: ``(X, Y)``, or ``X`` for data without labels."""
        if self.iteration == 0:
            self.shuffle()
        start = self.iteration * self.batch_size
        idx = self.order[start : start + self.batch_size]
        self.iteration = (self.iteration + 1) % self.samples_per_epoch
        return self.data[idx] if self.labels is None else (self.data[idx], self.labels[idx])

    def batches(self) -> Iterator:
        """The mini-batches up to the end of the current epoch (a whole epoch from its start)."""
        while True:
            yield self.sample()
            if self.iteration == 0:
                return

    def __len__(self) -> int:
        return self.n_samples


class Dataset:
    """The handout's ``Dataset``: ``train``, ``validate`` and ``test`` ``Data`` (the last two
    only when given), ``out_dim`` (the number of classes) and ``batch_size``. ``seed`` (ours)
    fixes the training batches' order; validation and test keep their order."""

    def __init__(
        self,
        training_set: np.ndarray,
        training_labels: np.ndarray,
        batch_size: int,
        validation_set: np.ndarray | None = None,
        validation_labels: np.ndarray | None = None,
        test_set: np.ndarray | None = None,
        test_labels: np.ndarray | None = None,
        seed: int | None = None,
        name: str = "",
    ):
        self.name, self.batch_size = name, batch_size
        self.train = Data(training_set, batch_size, training_labels, seed=seed)
        self.out_dim = self.train.out_dim
        self.n_training = self.train.n_samples
        self.n_features = int(np.prod(self.train.data.shape[1:]))

        def split(data, labels):
            if data is None:
                return None
            return Data(data, batch_size, labels, out_dim=self.out_dim, ordered=True)

        self.validate = split(validation_set, validation_labels)
        self.test = split(test_set, test_labels)
        self.n_validation = 0 if self.validate is None else self.validate.n_samples


def iris_arrays(standardize: bool = True) -> dict:
    """The course's Iris split as plain arrays: {"train"|"val"|"test": (X float64, y int64)}.

    Standardization (default) is fitted on the 105 training rows only, then applied to all three
    splits. It is the default because the four features have different scales (petal width
    ~0.1-2.5 cm, sepal length ~4-8 cm): on raw inputs one learning rate is too large for some
    weights and too small for others, and tanh/sigmoid units start saturated. Fitting on train
    only keeps the validation and test rows unseen, as they would be in deployment. (The
    handout's own ``datasets.py`` feeds the raw features.)
    """
    raw = {k: (X, np.argmax(Y, axis=1).astype(np.int64)) for k, (X, Y) in load_iris().items()}
    scaler = Standardizer().fit(raw["train"][0])
    return {k: (scaler.transform(X) if standardize else X.copy(), y) for k, (X, y) in raw.items()}


def shuffle_seed(seed: int | None) -> int | None:
    """The seed of the training split's shuffling for a dataset built with ``seed`` (None
    stays None: drawn from numpy's global generator)."""
    return None if seed is None else int(np.random.SeedSequence(seed).generate_state(1)[0])


def initialize_dataset(
    name: str,
    batch_size: int = 50,
    seed: int | None = None,
    standardize: bool = True,
    data_dir: str | None = None,
) -> Dataset:
    """Build a dataset by name: ``iris`` (shipped in the package; standardized on its training
    rows), or ``mnist`` / ``fashion_mnist`` (torchvision's files in the data directory:
    ``data_dir``, else ``$DATA_DIR``, else ``data/``). ``seed`` drives the mini-batch shuffling
    (None: numpy's global generator)."""
    key = str(name).lower()
    if key == "iris":
        arrays = iris_arrays(standardize)
        n_classes = len(IRIS_CLASSES)
        (X, y), (Xv, yv), (Xt, yt) = arrays["train"], arrays["val"], arrays["test"]
        return Dataset(
            X,
            one_hot(y, n_classes),
            batch_size,
            Xv,
            one_hot(yv, n_classes),
            Xt,
            one_hot(yt, n_classes),
            seed=shuffle_seed(seed),
            name="iris",
        )
    if key in IMAGE_DATASETS:
        return load_images(key, data_dir, batch_size, seed=seed, standardize=standardize)
    choices = ", ".join(["iris", *IMAGE_DATASETS])
    raise ValueError(f"unknown dataset {name!r}: choose one of {choices}")


# name: (torchvision's folder, mean, std of the training pixels / 255)
IMAGE_DATASETS = {
    "mnist": ("MNIST", 0.1307, 0.3081),
    "fashion_mnist": ("FashionMNIST", 0.2860, 0.3530),
}


def data_dir(path: str | None = None) -> str:
    """The project's data directory: ``path``, else ``$DATA_DIR``, else ``data/``."""
    import os

    return path or os.environ.get("DATA_DIR") or "data"


def read_idx(path) -> np.ndarray:
    """An IDX file (MNIST's format, optionally gzipped): a magic number (0, 0, type, number of
    dimensions), the big-endian int32 dimensions, then the uint8 values."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    values = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if values.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: {values.size} values for shape {tuple(dims)}")
    return values.reshape(tuple(int(d) for d in dims))


def idx_arrays(name: str, path: str | None = None) -> dict:
    """{"train"|"test": (uint8 images (n, 28, 28), int labels)} of ``name`` (``mnist`` or
    ``fashion_mnist``) from torchvision's layout, ``<data dir>/<folder>/raw/``."""
    import os

    folder = os.path.join(data_dir(path), IMAGE_DATASETS[name][0], "raw")
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        files = []
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            file = os.path.join(folder, f"{prefix}-{kind}")
            found = [p for p in (file, file + ".gz") if os.path.isfile(p)]
            if not found:
                raise FileNotFoundError(
                    f"{IMAGE_DATASETS[name][0]} not found in {os.path.abspath(data_dir(path))} "
                    f"({file} is missing): put torchvision's files in {folder}, point --data-dir "
                    "or DATA_DIR at a folder that holds them, or download them once with "
                    f"torchvision.datasets.{IMAGE_DATASETS[name][0]}(<data dir>, download=True)"
                )
            files.append(read_idx(found[0]))
        out[split] = (files[0], files[1].astype(np.int64))
    return out


def load_images(
    name: str,
    path: str | None = None,
    batch_size: int = 64,
    val: int = 5000,
    seed: int | None = 0,
    standardize: bool = True,
) -> Dataset:
    """MNIST or Fashion-MNIST as NHWC float32 images (n, 28, 28, 1): pixels / 255, then (with
    ``standardize``) normalized with the training pixels' mean and std; ``val`` seeded-random
    training images are held out for validation, and the official 10,000 test images are the
    test split. ``seed`` picks them (None: 0) and shuffles the batches (None: numpy's global
    generator)."""
    arrays = idx_arrays(name, path)
    _, mean, std = IMAGE_DATASETS[name]

    def prepare(images):
        x = images.astype(np.float32)[..., None] / np.float32(255.0)
        return (x - np.float32(mean)) / np.float32(std) if standardize else x

    def labels(y):
        return one_hot(y, 10).astype(np.float32)

    X, y = arrays["train"]
    order = np.random.default_rng(0 if seed is None else seed).permutation(len(X))
    held, kept = order[:val], order[val:]
    Xt, yt = arrays["test"]
    return Dataset(
        prepare(X[kept]),
        labels(y[kept]),
        batch_size,
        prepare(X[held]),
        labels(y[held]),
        prepare(Xt),
        labels(yt),
        seed=shuffle_seed(seed),
        name=name,
    )


def load_fashion_mnist(
    path: str | None = None, batch_size: int = 64, val: int = 5000, seed: int | None = 0
) -> Dataset:
    """Fashion-MNIST (``load_images``), as ``train_cnn.py`` trains on it."""
    return load_images("fashion_mnist", path, batch_size, val, seed)

"""Datasets: the Iris data (shipped inside the package), its split, and mini-batch sampling.

``initialize_dataset("iris", batch_size)`` returns a ``Dataset`` with ``train``, ``validate`` and
``test`` ``Data`` objects. ``Data.sample()`` yields one epoch of shuffled mini-batches.
"""

import csv
from collections.abc import Iterator
from importlib import resources

import numpy as np

IRIS_CLASSES = ("setosa", "versicolor", "virginica")
IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_SPLIT = (35, 5, 10)  # per class: 3 x (35, 5, 10) = 105 train / 15 val / 30 test
IRIS_SPLIT_SEED = 0  # the split is fixed; the training seed only shuffles batches and inits weights


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n,) integer labels -> (n, n_classes) float64 one-hot rows."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}"
        )
    Y = np.zeros((labels.size, n_classes))
    Y[np.arange(labels.size), labels] = 1.0
    return Y


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """The 150 Iris flowers (Fisher, 1936): features (150, 4) in cm and labels (150,) in 0..2.

    The CSV is the corrected version used by R and scikit-learn (the UCI copy has two wrong rows).
    """
    with resources.files("numpy_nn").joinpath("iris.csv").open() as f:
        rows = list(csv.DictReader(f))
    X = np.array([[float(r[c]) for c in IRIS_FEATURES] for r in rows])
    y = np.array([IRIS_CLASSES.index(r["species"]) for r in rows])
    return X, y


def stratified_split(
    y: np.ndarray, per_class: tuple[int, ...], seed: int = IRIS_SPLIT_SEED
) -> tuple[np.ndarray, ...]:
    """Index arrays, one per part, taking ``per_class[p]`` examples of every class for part p.

    Every part keeps the class proportions of the whole set. Deterministic for a given seed.
    """
    rng = np.random.default_rng(seed)
    parts = [[] for _ in per_class]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < sum(per_class):
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than {sum(per_class)}")
        bounds = np.cumsum((0,) + tuple(per_class))
        for p in range(len(per_class)):
            parts[p].append(idx[bounds[p] : bounds[p + 1]])
    return tuple(np.sort(np.concatenate(p)) for p in parts)


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
    """One split: ``data`` (n, d) or images (n, h, w, c), one-hot ``labels`` (n, k), and shuffled
    mini-batches.

    ``sample()`` yields ``(X_batch, Y_batch)`` covering every example once per call, in a new random
    order each call (the last batch may be smaller). ``reset()`` rewinds the shuffling to its seed,
    so the sequence of epochs repeats exactly.
    """

    def __init__(
        self,
        data: np.ndarray,
        labels: np.ndarray,
        batch_size: int = 50,
        seed: int | None = None,
        shuffle: bool = True,
    ):
        data, labels = np.asarray(data), np.asarray(labels)
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or batch_size <= 0
        ):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if data.ndim < 2 or labels.ndim != 2 or data.shape[0] != labels.shape[0]:
            raise ValueError(
                f"shape mismatch: data {data.shape} and one-hot labels {labels.shape} must be "
                "(n, d) (or (n, h, w, c) images) and (n, k) with the same n"
            )
        if not np.all(np.isfinite(data)):
            raise ValueError("data contains NaN or inf: clean or impute the input first")
        self.data, self.labels = data, labels
        self.n_samples, self.out_dim = data.shape[0], labels.shape[1]
        self.batch_size = int(batch_size)
        self.n_batches = int(np.ceil(self.n_samples / self.batch_size))
        self.seed, self.shuffle = seed, shuffle
        self.reset()

    def reset(self) -> None:
        """Restart the shuffling from the seed: the next epochs repeat the first ones."""
        self.rng = np.random.default_rng(self.seed)

    def sample(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = self.rng.permutation(self.n_samples) if self.shuffle else np.arange(self.n_samples)
        for start in range(0, self.n_samples, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.data[idx], self.labels[idx]

    def __len__(self) -> int:
        return self.n_samples


class Dataset:
    """``train``, ``validate`` and ``test`` splits plus ``out_dim`` (number of classes)."""

    def __init__(self, train: Data, validate: Data, test: Data, name: str = ""):
        self.name = name
        self.train, self.validate, self.test = train, validate, test
        self.out_dim = train.out_dim
        self.n_features = int(np.prod(train.data.shape[1:]))


def iris_arrays(standardize: bool = True) -> dict:
    """The Iris split as plain arrays: {"train"|"val"|"test": (X float64, y int64)}.

    Standardization (default) is fitted on the 105 training rows only, then applied to all three
    splits. It is the default because the four features have different scales (petal width
    ~0.1-2.5 cm, sepal length ~4-8 cm): on raw inputs one learning rate is too large for some
    weights and too small for others, and tanh/sigmoid units start saturated. Fitting on train
    only keeps the validation and test rows unseen, as they would be in deployment.
    """
    X, y = load_iris()
    idx = dict(zip(("train", "val", "test"), stratified_split(y, IRIS_SPLIT)))
    scaler = Standardizer().fit(X[idx["train"]])
    return {
        k: (scaler.transform(X[i]) if standardize else X[i].copy(), y[i]) for k, i in idx.items()
    }


def shuffle_seed(seed: int | None) -> int:
    """The seed of the training split's shuffling for a dataset built with ``seed``."""
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def initialize_dataset(
    name: str, batch_size: int = 50, seed: int | None = None, standardize: bool = True
) -> Dataset:
    """Build a dataset by name (``"iris"``). ``seed`` drives the mini-batch shuffling."""
    if str(name).lower() != "iris":
        raise ValueError(f"unknown dataset {name!r}: numpy_nn ships 'iris'")
    arrays = iris_arrays(standardize)
    n_classes = len(IRIS_CLASSES)
    train_seed = shuffle_seed(seed)
    splits = {
        k: Data(X, one_hot(y, n_classes), batch_size, seed=train_seed, shuffle=(k == "train"))
        for k, (X, y) in arrays.items()
    }
    return Dataset(splits["train"], splits["val"], splits["test"], name="iris")


FASHION_FOLDER = "FashionMNIST/raw"
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530  # of the training images' pixels / 255


def data_dir(path: str | None = None) -> str:
    """The project's data directory: ``path``, else ``$DATA_DIR``, else ``data/``."""
    import os

    return path or os.environ.get("DATA_DIR") or "data"


def read_idx(path) -> np.ndarray:
    """An IDX file (Fashion-MNIST's format, optionally gzipped): a magic number (0, 0, type,
    number of dimensions), the big-endian int32 dimensions, then the uint8 values."""
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


def fashion_mnist_arrays(path: str | None = None) -> dict:
    """{"train"|"test": (uint8 images (n, 28, 28), int labels)} from ``<data dir>/FashionMNIST/raw``."""
    import os

    folder = os.path.join(data_dir(path), FASHION_FOLDER)
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        files = []
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = os.path.join(folder, f"{prefix}-{kind}")
            found = [p for p in (name, name + ".gz") if os.path.isfile(p)]
            if not found:
                raise FileNotFoundError(
                    f"FashionMNIST not found in {os.path.abspath(data_dir(path))} ({name} is "
                    f"missing). Put the official files in {folder}, point --data-dir or DATA_DIR "
                    "at a folder that holds them, or run `python train.py --config "
                    "configs/fashion_mlp.yaml` once with internet access to download them."
                )
            files.append(read_idx(found[0]))
        out[split] = (files[0], files[1].astype(np.int64))
    return out


def load_fashion_mnist(
    path: str | None = None, batch_size: int = 64, val: int = 5000, seed: int | None = 0
) -> Dataset:
    """Fashion-MNIST as NHWC float32 images (n, 28, 28, 1), normalized with the training pixels'
    mean and std; ``val`` seeded-random training images are held out for validation, and the
    official 10,000 test images are the test split."""
    arrays = fashion_mnist_arrays(path)

    def prepare(images):
        x = images.astype(np.float32)[..., None] / np.float32(255.0)
        return (x - np.float32(FASHION_MEAN)) / np.float32(FASHION_STD)

    X, y = arrays["train"]
    order = np.random.default_rng(seed).permutation(len(X))
    held, kept = order[:val], order[val:]
    Xt, yt = arrays["test"]
    seed_ = shuffle_seed(seed)
    return Dataset(
        Data(prepare(X[kept]), one_hot(y[kept], 10).astype(np.float32), batch_size, seed=seed_),
        Data(prepare(X[held]), one_hot(y[held], 10).astype(np.float32), batch_size, shuffle=False),
        Data(prepare(Xt), one_hot(yt, 10).astype(np.float32), batch_size, shuffle=False),
        name="fashion_mnist",
    )

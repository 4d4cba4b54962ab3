"""Iris loading, the stratified split, standardization and mini-batch sampling."""

import numpy as np
import pytest

from numpy_nn.datasets import Data, Dataset, initialize_dataset, iris_arrays, load_iris, one_hot
from tests.conftest import ROOT


def test_the_courses_iris_split_ships_with_the_package():
    """The six files the handout reads from datasets/iris/, byte for byte the course's."""
    splits = load_iris()
    assert {k: (X.shape, Y.shape) for k, (X, Y) in splits.items()} == {
        "train": ((105, 4), (105, 3)),
        "val": ((15, 4), (15, 3)),
        "test": ((30, 4), (30, 3)),
    }
    shared = ROOT.parent / "shared" / "data" / "iris"
    if shared.is_dir():
        for path in shared.glob("*.npy"):
            assert (ROOT / "numpy_nn" / "iris" / path.name).read_bytes() == path.read_bytes()
    rows = np.concatenate([X for X, _ in splits.values()])
    assert len({tuple(r) for r in rows}) == 149  # two of Fisher's 150 flowers measure alike
    labels = np.concatenate([Y for _, Y in splits.values()])
    assert np.all(labels.sum(axis=1) == 1) and labels.sum(axis=0).tolist() == [50, 50, 50]


def test_split_is_fixed_and_raw_values_are_the_files():
    a, b = iris_arrays(), iris_arrays()
    raw = iris_arrays(standardize=False)
    for k, (X, y) in a.items():
        np.testing.assert_array_equal(X, b[k][0])
        np.testing.assert_array_equal(raw[k][0], load_iris()[k][0])
        np.testing.assert_array_equal(y, np.argmax(load_iris()[k][1], axis=1))


def test_standardization_is_fitted_on_train_only():
    d = iris_arrays()
    np.testing.assert_allclose(d["train"][0].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d["train"][0].std(axis=0), 1, atol=1e-12)
    assert not np.allclose(d["test"][0].mean(axis=0), 0, atol=1e-3)


def test_batches_cover_every_example_and_shuffle(rng):
    data = Data(np.arange(10.0)[:, None], 4, one_hot(np.arange(10) % 2, 2), seed=1)
    epochs = [np.concatenate([x[:, 0] for x, _ in data.batches()]) for _ in range(2)]
    assert [len(b) for b, _ in data.batches()] == [4, 4, 2]
    for e in epochs:
        assert sorted(e) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])
    data.reset()
    np.testing.assert_array_equal(np.concatenate([x[:, 0] for x, _ in data.batches()]), epochs[0])


def test_sample_is_the_handouts_one_batch_per_call():
    """``samples_per_epoch`` calls of ``sample()`` are one epoch, the order of ``batches()``."""
    X, Y = np.arange(10.0)[:, None], one_hot(np.arange(10) % 2, 2)
    data, twin = Data(X, 4, Y, seed=1), Data(X, 4, Y, seed=1)
    assert data.samples_per_epoch == 3 and data.n_samples == 10 and data.out_dim == 2
    for _ in range(2):  # two epochs
        calls = [data.sample() for _ in range(data.samples_per_epoch)]
        for (x, y), (tx, ty) in zip(calls, twin.batches()):
            np.testing.assert_array_equal(x, tx)
            np.testing.assert_array_equal(y, ty)
    unlabeled = Data(X, batch_size=10, ordered=True)
    np.testing.assert_array_equal(unlabeled.sample(), X)  # no labels: the batch alone, in order
    assert unlabeled.data_ is unlabeled.data


def test_global_seed_fixes_data_without_a_seed():
    """The handout's scripts call np.random.seed(...) and give no seed."""
    X = np.arange(20.0)[:, None]

    def order():
        np.random.seed(5)  # noqa: NPY002
        return np.concatenate(list(Data(X, 20).batches()))

    np.testing.assert_array_equal(order(), order())


def test_handout_dataset_arguments():
    X, Y = np.ones((6, 2)), one_hot(np.arange(6) % 3, 3)
    d = Dataset(
        training_set=X,
        training_labels=Y,
        batch_size=4,
        validation_set=X[:3],
        validation_labels=Y[:3],
    )
    assert d.out_dim == 3 and d.n_training == 6 and d.n_validation == 3 and d.test is None
    assert d.train.batch_size == d.validate.batch_size == 4


def test_dataset_seed_fixes_the_batch_order():
    def first_batch(seed):
        return initialize_dataset("iris", batch_size=8, seed=seed).train.sample()[0]

    np.testing.assert_array_equal(first_batch(3), first_batch(3))
    assert not np.array_equal(first_batch(3), first_batch(4))


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_reads_torchvisions_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 5030), ("t10k", 8)):  # 5,000 are held out for validation
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    data = initialize_dataset("mnist", batch_size=5, data_dir=str(tmp_path), standardize=False)
    assert data.train.data.shape == (30, 28, 28, 1) and data.validate.n_samples == 5000
    assert data.test.data.shape == (8, 28, 28, 1) and data.out_dim == 10
    assert 0 <= data.train.data.min() and data.train.data.max() <= 1  # pixels / 255
    with pytest.raises(FileNotFoundError, match=r"^MNIST not found in .*torchvision\.datasets"):
        initialize_dataset("mnist", data_dir=str(tmp_path / "elsewhere"))


def test_bad_input():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        initialize_dataset("iris", batch_size=0)
    with pytest.raises(ValueError, match="NaN"):
        Data(np.array([[np.nan]]), labels=np.array([[1.0]]))
    with pytest.raises(ValueError, match="shape mismatch"):
        Data(np.ones((3, 2)), labels=np.ones((2, 2)))
    with pytest.raises(ValueError, match="unknown dataset 'higgs'"):
        initialize_dataset("higgs")
    with pytest.raises(ValueError, match="labels must lie in"):
        one_hot(np.array([0, 3]), 3)

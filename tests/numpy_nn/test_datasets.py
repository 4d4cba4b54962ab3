"""Iris loading, the stratified split, standardization and mini-batch sampling."""

import numpy as np
import pytest

from numpy_nn.datasets import Data, initialize_dataset, iris_arrays, load_iris, one_hot


def test_iris_ships_with_the_package():
    X, y = load_iris()
    assert X.shape == (150, 4) and y.shape == (150,)
    assert np.bincount(y).tolist() == [50, 50, 50]


def test_split_is_stratified_fixed_and_disjoint():
    a, b = iris_arrays(), iris_arrays()
    sizes = {k: len(v[1]) for k, v in a.items()}
    assert sizes == {"train": 105, "val": 15, "test": 30}
    for k, (X, y) in a.items():
        assert np.bincount(y).tolist() == [sizes[k] // 3] * 3
        np.testing.assert_array_equal(X, b[k][0])
    raw = iris_arrays(standardize=False)
    rows = [tuple(r) for k in raw for r in raw[k][0]]
    assert len(rows) == 150 and sorted(rows) == sorted(tuple(r) for r in load_iris()[0])


def test_standardization_is_fitted_on_train_only():
    d = iris_arrays()
    np.testing.assert_allclose(d["train"][0].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d["train"][0].std(axis=0), 1, atol=1e-12)
    assert not np.allclose(d["test"][0].mean(axis=0), 0, atol=1e-3)


def test_sample_covers_every_example_and_shuffles(rng):
    data = Data(np.arange(10.0)[:, None], one_hot(np.arange(10) % 2, 2), batch_size=4, seed=1)
    epochs = [np.concatenate([x[:, 0] for x, _ in data.sample()]) for _ in range(2)]
    assert [len(b) for b, _ in data.sample()] == [4, 4, 2]
    for e in epochs:
        assert sorted(e) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])
    data.reset()
    np.testing.assert_array_equal(np.concatenate([x[:, 0] for x, _ in data.sample()]), epochs[0])


def test_dataset_seed_fixes_the_batch_order():
    def first_batch(seed):
        return next(initialize_dataset("iris", batch_size=8, seed=seed).train.sample())[0]

    np.testing.assert_array_equal(first_batch(3), first_batch(3))
    assert not np.array_equal(first_batch(3), first_batch(4))


def test_bad_input():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        initialize_dataset("iris", batch_size=0)
    with pytest.raises(ValueError, match="NaN"):
        Data(np.array([[np.nan]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="shape mismatch"):
        Data(np.ones((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        initialize_dataset("mnist")
    with pytest.raises(ValueError, match="labels must lie in"):
        one_hot(np.array([0, 3]), 3)

"""Initializers: shapes, seeding, and the variance each one promises."""

import math

import numpy as np
import pytest

from numpy_nn.weights import WEIGHT_INIT_NAMES, initialize_weights

SHAPE = (400, 300)


@pytest.mark.parametrize("name", WEIGHT_INIT_NAMES)
def test_shape_and_seeding(name):
    a = initialize_weights(name, seed=3)(SHAPE)
    b = initialize_weights(name, seed=3)(SHAPE)
    assert a.shape == SHAPE
    np.testing.assert_array_equal(a, b)
    c = initialize_weights(name)(SHAPE, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "name, activation, std",
    [
        ("he_normal", "relu", math.sqrt(2.0 / 400)),
        ("he_uniform", "relu", math.sqrt(2.0 / 400)),
        ("xavier_normal", None, math.sqrt(2.0 / 700)),
        ("xavier_uniform", None, math.sqrt(2.0 / 700)),
        ("xavier_uniform", "tanh", 5.0 / 3.0 * math.sqrt(2.0 / 700)),
        ("normal", None, 1.0),
    ],
)
def test_variance(name, activation, std):
    W = initialize_weights(name, activation=activation, seed=0)(SHAPE)
    assert abs(W.std() - std) / std < 0.02
    assert abs(W.mean()) < 0.05 * std


def test_fan_out_mode():
    W = initialize_weights("he_normal", activation="relu", mode="fan_out", seed=0)(SHAPE)
    assert abs(W.std() - math.sqrt(2.0 / 300)) < 0.02 * math.sqrt(2.0 / 300)


def test_deterministic_ones():
    assert not initialize_weights("zeros")((2, 3)).any()
    assert (initialize_weights("ones")((2, 3)) == 1).all()
    assert (initialize_weights("constant", value=0.5)((2, 3)) == 0.5).all()
    np.testing.assert_array_equal(initialize_weights("identity")((3, 3)), np.eye(3))


def test_sparse_zeroes_the_right_fraction_per_column():
    W = initialize_weights("sparse", sparsity=0.1, seed=0)(SHAPE)
    nonzero = (W != 0).sum(axis=0)
    assert (nonzero == 40).all()


def test_bad_names():
    with pytest.raises(ValueError, match="unknown weight initializer 'glorot'"):
        initialize_weights("glorot")
    with pytest.raises(ValueError, match="unknown mode"):
        initialize_weights("he_normal", mode="fan_avg")


@pytest.mark.parametrize(
    "cls, name, options",
    [
        ("Zeros", "zeros", {}),
        ("Ones", "ones", {}),
        ("Identity", "identity", {}),
        ("Uniform", "uniform", {"low": -2.0, "high": 3.0}),
        ("Normal", "normal", {"std": 0.5}),
        ("Constant", "constant", {"value": 4.0}),
        ("Sparse", "sparse", {"sparsity": 0.3}),
        ("XavierUniform", "xavier_uniform", {"activation": "tanh"}),
        ("XavierNormal", "xavier_normal", {"activation": "relu"}),
        ("HeUniform", "he_uniform", {"activation": "relu", "mode": "fan_out"}),
        ("HeNormal", "he_normal", {"activation": "relu"}),
    ],
)
def test_the_handouts_classes_draw_what_their_names_do(cls, name, options):
    from numpy_nn import weights

    init = getattr(weights, cls)(**options)
    assert isinstance(init, weights.WeightInitializer)
    by_name = initialize_weights(name, **options)
    assert type(by_name) is type(init)
    a = init(SHAPE, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, by_name(SHAPE, rng=np.random.default_rng(1)))

"""numpy_nn called the wrong way: an error naming the layer, the argument, the shapes and the fix
(numpy_nn/checks.py), never a KeyError, a broadcast error or a silent NaN."""

import numpy as np
import pytest

from numpy_nn.activations import ReLU, Sigmoid, SoftMax
from numpy_nn.conv import Conv2D, Pool2D
from numpy_nn.layers import Flatten, FullyConnected
from numpy_nn.losses import L2, CrossEntropy
from numpy_nn.normalization import BatchNorm1D
from numpy_nn.recurrent import Elman
from numpy_nn.regularization import Dropout

BEFORE_FORWARD = [
    (FullyConnected(3, "relu"), (2, 3)),
    (Conv2D(2, (3, 3), activation="relu"), (1, 2, 2, 2)),
    (Pool2D((2, 2)), (1, 2, 2, 2)),
    (BatchNorm1D(), (2, 2)),
    (Dropout(0.5), (2, 2)),
    (Flatten(), (2, 2)),
    (Elman(3, "tanh"), (2, 3)),
]


@pytest.mark.parametrize("layer,shape", BEFORE_FORWARD, ids=lambda x: type(x).__name__)
def test_backward_before_forward_says_so(layer, shape):
    name = type(layer).__name__
    with pytest.raises(RuntimeError, match=f"{name}.backward was called before forward"):
        layer.backward(np.ones(shape))


def _forwarded(layer, X):
    layer.forward(X)
    return layer


WRONG_UPSTREAM = [
    (_forwarded(FullyConnected(3, "relu"), np.ones((2, 4))), (2, 5), r"\(2, 3\)"),
    (_forwarded(Conv2D(2, (3, 3), activation="relu"), np.ones((1, 4, 4, 1))), (1, 4, 4, 3), ""),
    (_forwarded(Pool2D((2, 2), stride=2), np.ones((1, 4, 4, 1))), (1, 4, 4, 1), r"\(1, 2, 2, 1\)"),
    (_forwarded(BatchNorm1D(), np.random.default_rng(0).random((4, 3))), (4, 2), r"\(4, 3\)"),
    (_forwarded(Flatten(), np.ones((2, 3, 2))), (2, 5), r"\(2, 3, 2\)"),
]


@pytest.mark.parametrize("layer,shape,expected", WRONG_UPSTREAM, ids=lambda x: type(x).__name__)
def test_upstream_gradient_of_the_wrong_shape_names_both_shapes(layer, shape, expected):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}.backward: dLdY has shape .*{expected}"):
        layer.backward(np.ones(shape))


def test_activation_backward_checks_dY_against_Z():
    with pytest.raises(ValueError, match=r"ReLU.backward: dY has shape \(3, 2\) but Z .*\(2, 3\)"):
        ReLU().backward(np.ones((2, 3)), np.ones((3, 2)))


def test_softmax_of_one_example_says_how_to_make_a_batch():
    with pytest.raises(
        ValueError,
        match=r"SoftMax.forward: Z must be a batch of shape \(n, k\), "
        r"got shape \(5,\); for one example pass Z\[None\]",
    ):
        SoftMax().forward(np.ones(5))
    assert SoftMax().forward(np.ones(5)[None]).shape == (1, 5)


@pytest.mark.parametrize(
    "call",
    [
        lambda a: FullyConnected(3, "relu").forward(a),
        lambda a: Sigmoid().forward(a),
        lambda a: BatchNorm1D().forward(a),
        lambda a: Conv2D(2, (1, 1), activation="linear").forward(a.reshape(1, 1, 2, 2)),
        lambda a: L2()(np.zeros((2, 2)), a),
        lambda a: CrossEntropy()(np.eye(2), a),
    ],
)
def test_an_array_of_None_is_refused_not_turned_into_NaN(call):
    with pytest.raises(TypeError, match="must be an array of real numbers, got dtype object"):
        call(np.array([[None, None], [None, None]]))


def test_integer_and_boolean_inputs_still_work():
    assert FullyConnected(2, "linear", seed=0).forward(np.ones((3, 4), dtype=int)).dtype.kind == "f"
    assert ReLU().forward(np.array([[True, False]])).tolist() == [[True, False]]

"""Conv2D, Pool2D, Flatten, BatchNorm and Dropout equal PyTorch in float64 (forward, dX and every
parameter gradient), over strides, paddings, non-square kernels and inputs, batch size 1 too."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from numpy_nn.conv import Conv2D, Pool2D
from numpy_nn.layers import Flatten, initialize_layer
from numpy_nn.normalization import BatchNorm1D, BatchNorm2D
from numpy_nn.regularization import Dropout

RTOL = 1e-9


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)


def _close(ours: np.ndarray, theirs: torch.Tensor, nchw: bool = True):
    theirs = theirs.detach().numpy()
    if nchw:
        theirs = theirs.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=RTOL * np.abs(theirs).max())


CONV_CASES = [  # (batch, height, width, c_in, c_out, kernel, stride, pad)
    (2, 7, 7, 3, 4, 3, 1, "same"),
    (1, 8, 5, 2, 3, (3, 2), 1, "valid"),
    (3, 9, 6, 4, 2, (2, 3), 2, "same"),
    (2, 10, 7, 3, 5, 3, 3, 1),
    (1, 6, 9, 1, 2, (1, 4), 2, (2, 1)),
    (2, 5, 5, 2, 2, 5, 1, "same"),
]


@pytest.mark.parametrize("n, h, w, c, f, kernel, stride, pad", CONV_CASES)
def test_conv2d_matches_torch(n, h, w, c, f, kernel, stride, pad):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, h, w, c))
    layer = Conv2D(f, kernel, "linear", stride=stride, pad=pad, seed=1)
    Y = layer.forward(X)
    layer.parameters["b"] = rng.normal(size=(1, f))
    Y = layer.forward(X)
    G = rng.normal(size=Y.shape)
    dX = layer.backward(G)
    x = _nchw(X)
    weight = torch.tensor(layer.parameters["W"].transpose(3, 2, 0, 1), requires_grad=True)
    bias = torch.tensor(layer.parameters["b"][0], requires_grad=True)
    y = F.conv2d(x, weight, bias, stride=stride, padding=layer.pad)
    (y * torch.tensor(G.transpose(0, 3, 1, 2))).sum().backward()
    _close(Y, y)
    _close(dX, x.grad)
    _close(layer.gradients["W"], weight.grad.permute(2, 3, 1, 0), nchw=False)
    _close(layer.gradients["b"][0], bias.grad, nchw=False)


def test_conv2d_in_chunks_equals_in_one_piece():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 6, 6, 3))
    whole, chunked = Conv2D(4, 3, "relu", seed=2), Conv2D(4, 3, "relu", seed=2)
    chunked.keep_cols_bytes = chunked.max_chunk_bytes = 1  # one example per chunk
    G = rng.normal(size=(5, 6, 6, 4))
    np.testing.assert_allclose(whole.forward(X), chunked.forward(X), rtol=1e-12)
    np.testing.assert_allclose(whole.backward(G), chunked.backward(G), rtol=1e-12)
    np.testing.assert_allclose(whole.gradients["W"], chunked.gradients["W"], rtol=1e-12)


def test_conv2d_float32_in_float32_out():
    X = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    layer = Conv2D(2, 3, "relu", seed=0)
    Y = layer.forward(X)
    assert Y.dtype == np.float32 and layer.parameters["W"].dtype == np.float32
    assert layer.parameters["W"].shape == (3, 3, 3, 2) and layer.parameters["b"].shape == (1, 2)
    assert layer.backward(np.ones_like(Y)).dtype == np.float32


POOL_CASES = [  # (batch, height, width, channels, kernel, stride, pad)
    (2, 6, 6, 3, 2, 2, 0),
    (1, 7, 5, 2, (3, 2), 1, 1),
    (3, 9, 8, 1, 3, 3, 1),
    (2, 5, 7, 2, (2, 3), 2, (1, 1)),
]


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("n, h, w, c, kernel, stride, pad", POOL_CASES)
def test_pool2d_matches_torch(mode, n, h, w, c, kernel, stride, pad):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, h, w, c))
    layer = Pool2D(kernel, mode, stride=stride, pad=pad)
    Y = layer.forward(X)
    G = rng.normal(size=Y.shape)
    dX = layer.backward(G)
    x = _nchw(X)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    y = pool(x, layer.kernel_shape, stride=stride, padding=layer.pad)
    (y * torch.tensor(G.transpose(0, 3, 1, 2))).sum().backward()
    _close(Y, y)
    _close(dX, x.grad)


def test_flatten_is_a_reshape_both_ways():
    X = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    layer = Flatten()
    Y = layer.forward(X)
    assert Y.shape == (2, 60) and np.array_equal(Y, torch.from_numpy(X).reshape(2, -1).numpy())
    assert np.array_equal(layer.backward(Y), X)


@pytest.mark.parametrize(
    "cls, shape", [(BatchNorm1D, (6, 4)), (BatchNorm2D, (3, 5, 4, 2)), (BatchNorm2D, (1, 3, 2, 3))]
)
def test_batchnorm_matches_torch_in_training_and_evaluation(cls, shape):
    """Forward and gradients equal torch's; the running statistics follow the handout's
    convention (momentum weighs the past, the biased batch variance), computed here in torch."""
    rng = np.random.default_rng(0)
    layer = cls(eps=1e-5, momentum=0.8)
    X = rng.normal(loc=2.0, size=shape)
    layer.forward(X)
    layer.parameters["gamma"] = rng.normal(size=layer.parameters["gamma"].shape)
    layer.parameters["beta"] = rng.normal(size=layer.parameters["beta"].shape)
    layer.cache["running_mu"] = rng.normal(size=(1, shape[-1]))
    layer.cache["running_var"] = rng.uniform(0.5, 2, size=(1, shape[-1]))
    before = {k: torch.tensor(layer.cache[k][0]) for k in ("running_mu", "running_var")}
    Y = layer.forward(X)
    G = rng.normal(size=Y.shape)
    dX = layer.backward(G)
    to_torch = (lambda a: a.transpose(0, 3, 1, 2)) if X.ndim == 4 else (lambda a: a)
    x = torch.tensor(to_torch(X), requires_grad=True)
    gamma = torch.tensor(layer.parameters["gamma"][0], requires_grad=True)
    beta = torch.tensor(layer.parameters["beta"][0], requires_grad=True)
    y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
    (y * torch.tensor(to_torch(G))).sum().backward()
    nchw = X.ndim == 4
    _close(Y, y, nchw)
    _close(dX, x.grad, nchw)
    _close(layer.gradients["gamma"][0], gamma.grad, nchw=False)
    _close(layer.gradients["beta"][0], beta.grad, nchw=False)
    dims = [0, 2, 3] if nchw else [0]
    var, mean = torch.var_mean(x.detach(), dim=dims, unbiased=False)
    running_mean = 0.8 * before["running_mu"] + 0.2 * mean
    running_var = 0.8 * before["running_var"] + 0.2 * var
    _close(layer.cache["running_mu"][0], running_mean, nchw=False)
    _close(layer.cache["running_var"][0], running_var, nchw=False)
    layer.set_mode("test")  # evaluation: the running statistics, and the gradient through them
    Y = layer.forward(X)
    dX = layer.backward(G)
    x = torch.tensor(to_torch(X), requires_grad=True)
    y = F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=1e-5)
    (y * torch.tensor(to_torch(G))).sum().backward()
    _close(Y, y, nchw)
    _close(dX, x.grad, nchw)


def test_batchnorm_handout_mode_argument_is_for_one_call():
    layer = BatchNorm1D()
    X = np.random.default_rng(0).normal(size=(8, 3))
    train = layer.forward(X, mode="train")
    running = layer.cache["running_mu"].copy()
    test = layer.forward(X, mode="test")
    assert not np.allclose(train, test) and layer.training  # the layer's own mode is unchanged
    np.testing.assert_array_equal(layer.cache["running_mu"], running)  # test mode updates nothing
    np.testing.assert_array_equal(layer.forward(X), train)


def test_batchnorm_backward_uses_the_cache_a_test_set_by_hand():
    """The course's tests write X, X_hat, mu and var into the cache and call backward."""
    rng = np.random.default_rng(1)
    layer = BatchNorm1D(momentum=0.95, eps=1e-8)
    X = rng.normal(size=(9, 4))
    layer.forward(rng.normal(size=(9, 4)))  # another batch first
    mu, var = X.mean(axis=0), X.var(axis=0)
    X_hat = (X - mu) / np.sqrt(var + 1e-8)
    layer.cache.update(X=X, X_hat=X_hat, mu=mu, var=var)  # 1-D statistics, as a student's
    G = rng.normal(size=X.shape)
    dX = layer.backward(G)
    x = torch.tensor(X, requires_grad=True)
    y = F.batch_norm(
        x, None, None, torch.ones(4, dtype=torch.float64), None, training=True, eps=1e-8
    )
    (y * torch.tensor(G)).sum().backward()
    _close(dX, x.grad, nchw=False)
    np.testing.assert_allclose(layer.gradients["gamma"][0], (G * X_hat).sum(axis=0))


def test_batchnorm_clear_gradients_keeps_the_running_statistics():
    layer = BatchNorm2D()
    layer.forward(np.random.default_rng(0).normal(size=(2, 3, 3, 2)))
    running = {k: layer.cache[k] for k in layer.running_keys}
    layer.clear_gradients()
    assert all(layer.cache[k] is v for k, v in running.items())
    assert isinstance(layer.cache["X_hat"], list)


def test_dropout_matches_torch_with_a_known_mask_and_follows_its_seed():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 3, 3, 2))
    layer = Dropout(0.3, seed=7)
    Y = layer.forward(X)
    mask = (Y != 0).astype(float)
    kept = torch.tensor(X, requires_grad=True)
    y = kept * torch.tensor(mask) / (1 - 0.3)  # torch's dropout with this mask
    G = rng.normal(size=X.shape)
    (y * torch.tensor(G)).sum().backward()
    _close(Y, y, nchw=False)
    _close(layer.backward(G), kept.grad, nchw=False)
    assert 0.5 < mask.mean() < 0.9
    np.testing.assert_array_equal(Dropout(0.3, seed=7).forward(X), Y)  # same seed, same mask
    assert not np.array_equal(Dropout(0.3, seed=8).forward(X), Y)
    layer.set_mode("test")
    assert layer.forward(X) is X and layer.backward(G) is G


@pytest.mark.parametrize(
    "make, X, message",
    [
        (
            lambda: Conv2D(2, 3, "relu"),
            np.zeros((2, 5, 5)),
            r"X must be a batch of shape \(n, height, width, channels\)",
        ),
        (
            lambda: Conv2D(2, 7, "relu", pad="valid"),
            np.zeros((1, 5, 5, 1)),
            "kernel 7 is larger than the padded input",
        ),
        (lambda: Pool2D(4), np.zeros((1, 3, 8, 1)), "kernel 4 is larger than the padded input"),
        (lambda: BatchNorm2D(), np.zeros((4, 3)), "BatchNorm2D expects an NHWC image batch"),
        (lambda: BatchNorm1D(), np.zeros((1, 3)), "needs more than one value per channel"),
        (lambda: Flatten(), np.zeros(3), "Flatten expects a batch"),
    ],
)
def test_bad_input_names_the_shapes(make, X, message):
    with pytest.raises(ValueError, match=message):
        make().forward(X)


def test_wrong_channel_count_after_initialization():
    layer = Conv2D(2, 3, "relu")
    layer.forward(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match="input has 4 channels but the layer expects 3"):
        layer.forward(np.zeros((1, 5, 5, 4)))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Conv2D(2, 3, "relu", stride=0), "stride must be an integer >= 1"),
        (lambda: Conv2D(2, 3, "relu", pad="full"), 'pad must be one of "same", "valid"'),
        (lambda: Pool2D(2, "median"), "choose 'max' or 'average'"),
        (lambda: Pool2D(2, stride=-1), "stride must be an integer >= 1"),
        (lambda: Dropout(1.0), r"p must be in \[0, 1\)"),
        (lambda: Dropout(-0.1), r"p must be in \[0, 1\)"),
    ],
)
def test_bad_options_are_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_initialize_layer_builds_every_kind():
    assert isinstance(
        initialize_layer("conv2d", n_out=4, kernel_shape=3, activation="relu"), Conv2D
    )
    assert isinstance(initialize_layer("pool2d", kernel_shape=2, mode="max", stride=2), Pool2D)
    assert isinstance(initialize_layer("flatten"), Flatten)
    assert isinstance(initialize_layer("batchnorm2d", momentum=0.2), BatchNorm2D)
    bn = initialize_layer("batchnorm1d")  # the handout's initialize_layer defaults
    assert (bn.eps, bn.momentum) == (1e-8, 0.95)
    assert (BatchNorm1D().eps, BatchNorm1D().momentum) == (1e-8, 0.9)  # the class's
    assert initialize_layer("dropout", p=0.2, seed=3).p == 0.2


def test_max_pool_ties_route_to_the_first_maximum_as_torch():
    X = np.zeros((1, 4, 6, 2))
    X[0, 1, 1, 0] = X[0, 1, 0, 0] = 1.0  # a tie inside one window
    layer = Pool2D(2, "max", stride=2)
    Y = layer.forward(X)
    G = np.random.default_rng(0).normal(size=Y.shape)
    x = _nchw(X)
    y = F.max_pool2d(x, 2, stride=2)
    (y * torch.tensor(G.transpose(0, 3, 1, 2))).sum().backward()
    _close(layer.backward(G), x.grad)


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: initialize_layer("fully_connected", n_out=5, activation="relu", seed=0), (7, 4)),
        (lambda: Conv2D(4, 3, "relu", stride=1, pad="same", seed=0), (3, 6, 6, 2)),
    ],
)
def test_input_gradient_false_fills_the_same_gradients_and_skips_dx(make, shape):
    """What a network asks of its first layer (whose input is the data)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape)
    full, skipping = make(), make()
    Y = full.forward(X)
    skipping.forward(X)
    G = rng.normal(size=Y.shape)
    dX = full.backward(G)
    assert full.skips_input_gradient and dX.shape == X.shape
    assert skipping.backward(G, input_gradient=False) is None
    for name in full.gradients:
        np.testing.assert_array_equal(skipping.gradients[name], full.gradients[name])


def test_batchnorm1d_takes_the_batch_norm_semesters_n_in_keyword():
    """The spring 2025 handout builds BatchNorm1D(momentum, eps, n_in=None): None learns the
    channels from the first batch; a number builds the parameters at once, and the same batch
    gives the same output either way."""
    X = np.random.default_rng(0).standard_normal((6, 4))
    later, now = BatchNorm1D(momentum=0.95, eps=1e-8, n_in=None), BatchNorm1D(n_in=4)
    assert later.n_in is None and now.parameters["gamma"].shape == (1, 4)
    assert np.array_equal(later.forward(X), BatchNorm1D(momentum=0.95, n_in=4).forward(X))
    with pytest.raises(ValueError, match="channels"):
        now.forward(np.ones((6, 5)))
    with pytest.raises(ValueError, match="n_in"):
        BatchNorm1D(n_in=0)

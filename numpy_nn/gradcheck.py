"""Numerical gradient checks by central differences, in float64.

For a function Y = f(x) and a random upstream gradient dY, the analytic backward gives
dL/dx for L = sum(Y ⊙ dY). Central differences estimate the same thing entry by entry:

    dL/dx_j ≈ (L(x + h e_j) - L(x - h e_j)) / (2h),

with error O(h^2) from truncation and O(eps / h) from rounding; h = 1e-5 keeps both near 1e-10.
The two are compared by the relative error ||a - n|| / (||a|| + ||n||).

    python -m numpy_nn.gradcheck      # table of every check; exit status 1 if any fails
"""

import sys
from collections.abc import Callable

import numpy as np

from numpy_nn import utils
from numpy_nn.activations import ACTIVATION_NAMES, initialize_activation
from numpy_nn.layers import (
    BatchNorm1D,
    BatchNorm2D,
    Conv2D,
    Dropout,
    Elman,
    FullyConnected,
    Pool2D,
)
from numpy_nn.losses import initialize_loss
from numpy_nn.utils import one_hot

TOLERANCE = 1e-8
STEP = 1e-5


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dY: np.ndarray, h: float = STEP
) -> np.ndarray:
    """Central-difference gradient of sum(f(x) ⊙ dY) w.r.t. x, in float64 (x is restored
    afterwards): ``numpy_nn.utils.numerical_gradient`` with this module's step."""
    x = np.asarray(x, dtype=np.float64)
    return utils.numerical_gradient(f, x, dY, h)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||); 0 when both are exactly zero."""
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - numeric) / denom)


def _away_from_kinks(Z: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """Push entries within ``margin`` of 0 out to ±margin, so a ±h probe never crosses ReLU's kink."""
    return np.where(np.abs(Z) < margin, np.copysign(margin, Z), Z)


def check_activation(name: str, rng: np.random.Generator, n: int = 7, k: int = 5) -> float:
    act = initialize_activation(name)
    Z = _away_from_kinks(rng.normal(size=(n, k)))
    dY = rng.normal(size=(n, k))
    return relative_error(act.backward(Z, dY), numerical_gradient(act.forward, Z, dY))


def check_fully_connected(
    activation: str, rng: np.random.Generator, n: int = 6, n_in: int = 4, n_out: int = 3
) -> dict:
    """Relative errors of dL/dW, dL/db and dL/dX for one FullyConnected layer."""
    layer = FullyConnected(n_out, activation, seed=int(rng.integers(2**31)))
    X = rng.normal(size=(n, n_in))
    layer.forward(X)
    layer.parameters["b"] = rng.normal(size=(1, n_out))
    # Redraw X until no pre-activation is within 0.05 of 0, where ReLU has no derivative.
    while np.min(np.abs(X @ layer.parameters["W"] + layer.parameters["b"])) < 0.05:
        X = rng.normal(size=(n, n_in))
    dY = rng.normal(size=(n, n_out))
    layer.forward(X)
    dX = layer.backward(dY)
    analytic = {"W": layer.gradients["W"].copy(), "b": layer.gradients["b"].copy()}
    errors = {}
    for p in ("W", "b"):
        value = layer.parameters[p].copy()
        numeric = numerical_gradient(layer.forward_with_param(p, X), value, dY)
        layer.parameters[p] = value
        errors[p] = relative_error(analytic[p], numeric)
    errors["X"] = relative_error(dX, numerical_gradient(layer.forward, X.copy(), dY))
    return errors


def check_loss(name: str, rng: np.random.Generator, n: int = 7, k: int = 4) -> float:
    loss = initialize_loss(name)
    Y = one_hot(rng.integers(k, size=n), k)
    Y_hat = rng.uniform(0.1, 1.0, size=(n, k))
    Y_hat /= Y_hat.sum(axis=1, keepdims=True)
    analytic = loss.backward(Y, Y_hat)
    numeric = numerical_gradient(lambda P: np.array(loss.forward(Y, P)), Y_hat, np.array(1.0))
    return relative_error(analytic, numeric)


def check_layer(layer, X: np.ndarray, rng: np.random.Generator, fixed=None) -> dict:
    """Relative errors of dL/dX and of every parameter's gradient for any layer, at input X.
    ``fixed()`` runs before every forward pass (e.g. to reuse one dropout mask)."""

    def forward(X_):
        if fixed is not None:
            fixed()
        return layer.forward(X_)

    Y = forward(X)
    dY = rng.normal(size=Y.shape)
    dX = layer.backward(dY)
    if isinstance(dX, list):  # a recurrent layer's dL/dX_t, one per step: stack them as X is
        dX = np.stack(dX, axis=-1)
    analytic = {p: g.copy() for p, g in layer.gradients.items()}
    errors = {"X": relative_error(dX, numerical_gradient(forward, X.copy(), dY))}
    for p in layer.parameters:
        value = layer.parameters[p].copy()

        def with_param(v, p=p):
            layer.parameters[p] = v
            return forward(X)

        errors[p] = relative_error(analytic[p], numerical_gradient(with_param, value, dY))
        layer.parameters[p] = value
    return errors


def _distinct(rng: np.random.Generator, shape) -> np.ndarray:
    """Values at least 0.02 apart, so a ±h probe never changes which one a max pool picks."""
    return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.02 + 0.01


def image_layer_checks(rng: np.random.Generator) -> list[tuple[str, object, np.ndarray, object]]:
    """(row name, layer, input, fixed) for every image layer the checker covers."""
    images = rng.normal(size=(2, 6, 5, 3))
    dropout = Dropout(0.4, seed=int(rng.integers(2**31)))
    dropout.forward(images)  # draw one mask, then hold it fixed
    mask_rng = dropout.rng.bit_generator.state
    bn_seed = int(rng.integers(2**31))
    return [
        ("conv2d[3x3 same, tanh]", Conv2D(4, 3, "tanh", seed=bn_seed), images, None),
        (
            "conv2d[2x3 stride 2 valid]",
            Conv2D(2, (2, 3), "linear", 2, "valid", seed=bn_seed),
            images,
            None,
        ),
        (
            "conv2d[3x2 stride 3 pad 2]",
            Conv2D(3, (3, 2), "sigmoid", 3, 2, seed=bn_seed),
            images,
            None,
        ),
        (
            "conv2d[3x3 winograd, odd width]",
            Conv2D(4, 3, "tanh", seed=bn_seed, algorithm="winograd"),
            images,
            None,
        ),
        ("pool2d[max 2x2 stride 2]", Pool2D(2, "max", 2), _distinct(rng, (2, 6, 5, 3)), None),
        (
            "pool2d[max 3x2 stride 1 pad 1]",
            Pool2D((3, 2), "max", 1, 1),
            _distinct(rng, (2, 6, 5, 3)),
            None,
        ),
        ("pool2d[average 3x3 stride 2 pad 1]", Pool2D(3, "average", 2, 1), images, None),
        ("batchnorm1d", BatchNorm1D(), rng.normal(size=(7, 4)), None),
        ("elman[tanh, 4 steps]", Elman(3, "tanh", seed=bn_seed), rng.normal(size=(5, 2, 4)), None),
        ("elman[relu, 3 steps]", Elman(4, "relu", seed=bn_seed), rng.normal(size=(3, 2, 3)), None),
        ("batchnorm2d", BatchNorm2D(), images, None),
        (
            "dropout[p=0.4, fixed mask]",
            dropout,
            images,
            lambda: setattr(dropout.rng.bit_generator, "state", mask_rng),
        ),
    ]


def run_checks(seed: int = 0) -> list[tuple[str, float]]:
    """Every check as (name, relative error)."""
    rng = np.random.default_rng(seed)
    rows = []
    activations = [a for a in ACTIVATION_NAMES if a != "identity"]  # identity is linear's alias
    for name in activations:
        rows.append((f"activation {name}", check_activation(name, rng)))
    for name in activations:
        for p, err in check_fully_connected(name, rng).items():
            rows.append((f"fully_connected[{name}] d{p}", err))
    for name in ("cross_entropy", "l2"):
        rows.append((f"loss {name}", check_loss(name, rng)))
    for name, layer, X, fixed in image_layer_checks(rng):
        if isinstance(layer, (BatchNorm1D, Dropout, Elman)):  # random scale and shift, not 1 and 0
            layer.forward(X)
            for p in layer.parameters:
                layer.parameters[p] = rng.normal(size=layer.parameters[p].shape)
        for p, err in check_layer(layer, X, rng, fixed).items():
            rows.append((f"{name} d{p}", err))
    return rows


def report() -> int:
    """Print the table of every check; the exit status: 1 if any fails. (``nn-gradcheck`` is
    ``commands/gradcheck.py``; ``python -m numpy_nn.gradcheck`` runs this without torch or
    anything outside numpy_nn, as the handout's package must.)"""
    rows = run_checks()
    width = max(len(name) for name, _ in rows)
    print(f"{'check':<{width}}  {'rel. error':>14}  pass (< {TOLERANCE:g})")
    print(f"{'-' * width}  {'-' * 14}  {'-' * 15}")
    failed = 0
    for name, err in rows:
        ok = err < TOLERANCE
        failed += not ok
        print(f"{name:<{width}}  {err:>14.3e}  {'yes' if ok else 'NO'}")
    print(f"\n{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(report())

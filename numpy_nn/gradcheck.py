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

from numpy_nn.activations import ACTIVATION_NAMES, initialize_activation
from numpy_nn.datasets import one_hot
from numpy_nn.layers import FullyConnected
from numpy_nn.losses import initialize_loss

TOLERANCE = 1e-8
STEP = 1e-5


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dY: np.ndarray, h: float = STEP
) -> np.ndarray:
    """Central-difference gradient of sum(f(x) ⊙ dY) w.r.t. x (x is restored afterwards)."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
    for j in range(flat_x.size):  # one probe per entry of x: inherent to finite differences
        old = flat_x[j]
        flat_x[j] = old + h
        plus = np.sum(f(x) * dY)
        flat_x[j] = old - h
        minus = np.sum(f(x) * dY)
        flat_x[j] = old
        flat_g[j] = (plus - minus) / (2.0 * h)
    return grad


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
    return rows


def main(argv=None) -> int:
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
    sys.exit(main())

"""Write the conformance suite's fixtures, ``grading/course/fixtures/<TestClassName>.npz``,
computed by PyTorch (the grader and tests/course read them there).

    python -m tests.course.generate_fixtures [--out DIR]

Every expected value comes from torch (float64, autograd for the gradients), never from numpy_nn,
so the suite checks numpy_nn, and any student's ``neural_networks``, against an independent
reference. Inputs are drawn by seeded torch generators and rounded to float32, the dtype the
arrays are stored in (a few MB in all), on a grid of 2^-10; the expected values are computed from the rounded inputs
in float64 and then stored in float32 too, far below the tests' ``decimal=4``.

Inputs stay away from the points where correct answers legitimately differ, and the generator
asserts it: no value is exactly 0 (ReLU's kink: the handout's text gives its derivative there as
1, PyTorch 0), no pre-activation of a dense or convolutional layer is exactly 0 (its biases are
odd multiples of 2^-21, the products multiples of 2^-20), and the values pooled are all
different (no tied maximum).

Keys of case ``i`` (the course's): ``{i}input`` (the stacked arguments of forward: (1, N, ...) for
a layer or activation, (2, N, k) = (Y, Y_hat) for a loss), ``{i}output``, ``{i}upstream_grad``,
``{i}backward`` (dL/dX, or dL/dY_hat for a loss), and ``{i}W``, ``{i}b`` for weighted layers; ours
beside them: ``{i}dW``, ``{i}db``, and for BatchNorm1D ``{i}gamma``, ``{i}beta``, the cache's
``{i}X_hat``, ``{i}mu``, ``{i}var``, the running statistics before (``{i}running_mu``,
``{i}running_var``) and after (``{i}new_running_mu``, ``{i}new_running_var``) the training
forward, ``{i}dgamma``, ``{i}dbeta`` and the evaluation output ``{i}test_output``.
"""

import argparse
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from grading.course.cases import ACTIVATIONS, LOSSES, cases, spec_of

DATA = Path(__file__).resolve().parents[2] / "grading" / "course" / "fixtures"
ACTIVATION_FUNCTIONS = {
    "Linear": lambda z: z,
    "Sigmoid": torch.sigmoid,
    "TanH": torch.tanh,
    "ReLU": torch.relu,
    "SoftMax": lambda z: torch.softmax(z, dim=1),
    "ArcTan": torch.atan,
}


GRID = 2.0**-10  # inputs are multiples of this: exact in float32, and they compress to half


class Draw:
    """Seeded float64 tensors on a grid of exact float32 numbers (what the fixture stores)."""

    def __init__(self, name: str):
        self.g = torch.Generator().manual_seed(zlib.crc32(name.encode()))

    def normal(self, *shape, mean=0.0, std=1.0, grad=False):
        """Never exactly 0: a value that rounds to 0 becomes the grid step of its sign."""
        t = mean + std * torch.randn(*shape, generator=self.g, dtype=torch.float64)
        q = torch.round(t / GRID)
        q = torch.where(q == 0, torch.where(t < 0, -1.0, 1.0).double(), q)
        return (q * GRID).requires_grad_(grad)

    def bias(self, *shape, std=0.1, grad=False):
        """Odd multiples of 2^-21: added to products on the 2^-20 grid, never a sum of 0."""
        t = self.normal(*shape, std=std) + 2.0**-21
        return t.requires_grad_(grad)

    def distinct(self, *shape, grad=False):
        """Every value different: a shuffled run of grid points around 0, none of them 0."""
        n = int(torch.tensor(shape).prod())
        steps = torch.randperm(n, generator=self.g).double() - n // 2
        steps = torch.where(steps >= 0, steps + 1, steps)
        return (steps * GRID * 8).reshape(shape).requires_grad_(grad)

    def uniform(self, *shape, low=0.0, high=1.0):
        t = low + (high - low) * torch.rand(*shape, generator=self.g, dtype=torch.float64)
        return torch.round(t / GRID) * GRID


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float32)


def _backward(out: torch.Tensor, draw: Draw):
    """A random upstream gradient G and the graph's backward of sum(out * G)."""
    G = draw.normal(*out.shape)
    (out * G).sum().backward()
    return G


def _nonzero(Z: torch.Tensor) -> None:
    assert bool((Z != 0).all()), "a value exactly at ReLU's kink"


def activation_case(name: str, batch: int, size: tuple, draw: Draw) -> dict:
    Z = draw.normal(batch, *size, std=2.0, grad=True)
    _nonzero(Z)
    Y = ACTIVATION_FUNCTIONS[name](Z)
    G = _backward(Y, draw)
    return {"input": _np(Z)[None], "output": _np(Y), "upstream_grad": _np(G),
            "backward": _np(Z.grad)}  # fmt: skip


def _activate(name: str, Z: torch.Tensor) -> torch.Tensor:
    return ACTIVATION_FUNCTIONS[{"relu": "ReLU", "tanh": "TanH", "linear": "Linear",
                                 "sigmoid": "Sigmoid", "arctan": "ArcTan"}[name]](Z)  # fmt: skip


def fully_connected_case(config: dict, batch: int, size: tuple, draw: Draw) -> dict:
    n_in, n_out = size[0], config["n_out"]
    X = draw.normal(batch, n_in, grad=True)
    W = draw.normal(n_in, n_out, std=n_in**-0.5, grad=True)
    b = draw.bias(1, n_out, grad=True)
    _nonzero(X @ W + b)
    Y = _activate(config["activation"], X @ W + b)
    G = _backward(Y, draw)
    return {"input": _np(X)[None], "output": _np(Y), "upstream_grad": _np(G),
            "backward": _np(X.grad), "W": _np(W), "b": _np(b), "dW": _np(W.grad),
            "db": _np(b.grad)}  # fmt: skip


def _padding(pad, kernel) -> tuple:
    if pad == "same":
        return (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    if pad == "valid":
        return 0, 0
    return pad, pad


def conv2d_case(config: dict, batch: int, size: tuple, draw: Draw) -> dict:
    (kh, kw), c_in, n_out = config["kernel_shape"], size[2], config["n_out"]
    X = draw.normal(batch, *size, grad=True)  # NHWC
    W = draw.normal(kh, kw, c_in, n_out, std=(kh * kw * c_in) ** -0.5, grad=True)
    b = draw.bias(1, n_out, grad=True)
    Z = F.conv2d(X.permute(0, 3, 1, 2), W.permute(3, 2, 0, 1), b[0],
                 stride=config.get("stride", 1),
                 padding=_padding(config.get("pad", "same"), (kh, kw)))  # fmt: skip
    _nonzero(Z)
    Y = _activate(config["activation"], Z).permute(0, 2, 3, 1)
    G = _backward(Y, draw)
    return {"input": _np(X)[None], "output": _np(Y), "upstream_grad": _np(G),
            "backward": _np(X.grad), "W": _np(W), "b": _np(b), "dW": _np(W.grad),
            "db": _np(b.grad)}  # fmt: skip


def pool2d_case(config: dict, batch: int, size: tuple, draw: Draw) -> dict:
    kernel = config["kernel_shape"]
    X = draw.distinct(batch, *size, grad=True)  # no tie for any window's maximum
    assert len(torch.unique(X)) == X.numel()
    x = X.permute(0, 3, 1, 2)
    stride, pad = config.get("stride", 1), _padding(config.get("pad", 0), kernel)
    if config.get("mode", "max") == "max":
        y = F.max_pool2d(x, kernel, stride, pad)
    else:
        y = F.avg_pool2d(x, kernel, stride, pad, count_include_pad=True)
    Y = y.permute(0, 2, 3, 1)
    G = _backward(Y, draw)
    return {"input": _np(X)[None], "output": _np(Y), "upstream_grad": _np(G),
            "backward": _np(X.grad)}  # fmt: skip


def flatten_case(config: dict, batch: int, size: tuple, draw: Draw) -> dict:
    X = draw.normal(batch, *size, grad=True)
    Y = X.reshape(batch, -1)
    G = _backward(Y, draw)
    return {"input": _np(X)[None], "output": _np(Y), "upstream_grad": _np(G),
            "backward": _np(X.grad)}  # fmt: skip


def batchnorm1d_case(config: dict, batch: int, size: tuple, draw: Draw) -> dict:
    """Training forward with the batch's statistics (biased variance), the handout's running
    averages (momentum weighs the past), then evaluation with the updated running statistics."""
    m, eps, c = config["momentum"], config["eps"], size[0]
    X = draw.normal(batch, c, mean=2.0, std=3.0, grad=True)
    gamma = draw.normal(c, mean=1.0, std=0.2, grad=True)
    beta = draw.normal(c, std=0.5, grad=True)
    running_mu, running_var = draw.normal(c), draw.uniform(c, low=0.5, high=2.0)
    Y = F.batch_norm(X, None, None, gamma, beta, training=True, eps=eps)
    G = _backward(Y, draw)
    x = X.detach()
    var, mu = torch.var_mean(x, dim=0, unbiased=False)
    new_mu, new_var = m * running_mu + (1 - m) * mu, m * running_var + (1 - m) * var
    test = F.batch_norm(x, new_mu, new_var, gamma.detach(), beta.detach(), False, eps=eps)
    row = {"gamma": gamma, "beta": beta, "mu": mu, "var": var, "running_mu": running_mu,
           "running_var": running_var, "new_running_mu": new_mu, "new_running_var": new_var}  # fmt: skip
    out = {k: _np(v)[None] for k, v in row.items()}  # (1, c), the layer's shape
    out.update(input=_np(X)[None], output=_np(Y), upstream_grad=_np(G), backward=_np(X.grad),
               X_hat=_np((x - mu) / torch.sqrt(var + eps)), dgamma=_np(gamma.grad)[None],
               dbeta=_np(beta.grad)[None], test_output=_np(test))  # fmt: skip
    return out


def loss_case(name: str, batch: int, size: tuple, draw: Draw) -> dict:
    k = size[0]
    if name == "CrossEntropy":  # one-hot targets, probability rows
        labels = torch.randint(k, (batch,), generator=draw.g)
        Y = F.one_hot(labels, k).double()
        Y_hat = torch.softmax(draw.normal(batch, k, std=2.0), dim=1).float().double()
        Y_hat.requires_grad_(True)
        J = -(Y * torch.log(Y_hat)).sum() / batch
    else:  # L2, the course's 1/(2m)
        Y, Y_hat = draw.normal(batch, k), draw.normal(batch, k, grad=True)
        J = ((Y - Y_hat) ** 2).sum() / (2 * batch)
    J.backward()
    return {"input": np.stack([_np(Y), _np(Y_hat)]), "output": J.detach().numpy(),
            "backward": _np(Y_hat.grad)}  # fmt: skip


LAYER_CASE = {
    "TestFullyConnected": fully_connected_case,
    "TestConv2D": conv2d_case,
    "TestPool2D": pool2d_case,
    "TestFlatten": flatten_case,
    "TestBatchNorm1D": batchnorm1d_case,
}


def fixture(test_class: str) -> dict[str, np.ndarray]:
    """Every array of one test class's fixture, keyed ``"{i}name"``."""
    draw = Draw(test_class)
    arrays = {}
    for i, config, batch, size in cases(spec_of(test_class)):
        if test_class in ACTIVATIONS:
            case = activation_case(ACTIVATIONS[test_class], batch, size, draw)
        elif test_class in LOSSES:
            case = loss_case(LOSSES[test_class], batch, size, draw)
        else:
            case = LAYER_CASE[test_class](config, batch, size, draw)
        arrays.update({f"{i}{k}": v for k, v in case.items()})
    return arrays


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` with fixed timestamps, so the same arrays give the same bytes;
    written to a temporary file and renamed (never a half-written fixture)."""
    part = path.with_name(f".{path.name}.part")
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        for key, array in arrays.items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            with z.open(member, "w") as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
    part.replace(path)


def test_classes() -> list[str]:
    return [*ACTIVATIONS, *LAYER_CASE, *LOSSES]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DATA, help=f"folder (default {DATA})")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in test_classes():
        path = args.out / f"{name}.npz"
        save_npz(path, fixture(name))
        total += path.stat().st_size
        print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")
    print(f"{total / 2**20:.2f} MiB in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

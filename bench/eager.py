"""Sections 1 and 6: numpy_nn's steps and convolutions against torch eager, on the same data in one process."""

import os

import numpy as np

from bench.machine import ROOT, interleaved_blocks


# -- 1. numpy_nn vs torch eager ------------------------------------------------------------------
def numpy_step_fn(sizes, dtype, X, Y, steps, update=True):
    """``steps`` training steps of numpy_nn's MLP; ``update=False`` leaves out the optimizer step
    (forward, loss and backward only: how fast numpy_nn could be with a free update)."""
    from numpy_nn.models import NeuralNetwork

    layers = [{"name": "fully_connected", "n_out": h, "activation": "relu"} for h in sizes[1:-1]]
    layers.append({"name": "fully_connected", "n_out": sizes[-1], "activation": "softmax"})
    model = NeuralNetwork(
        "cross_entropy", layers, {"name": "sgd", "lr": 0.01, "momentum": 0.9}, seed=0
    )
    X, Y = X.astype(dtype), Y.astype(dtype)

    def run():
        for _ in range(steps):
            model.backward(Y, model.forward(X))
            if update:
                model.update()

    run.model = model
    return run


def _torch_step_fn(sizes, dtype, X, Y, steps):
    import torch
    import torch.nn.functional as F
    from torch import nn

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    mods = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mods += [nn.Linear(a, b, dtype=tdtype), nn.ReLU()]
    net = nn.Sequential(*mods[:-1])
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(X.astype(dtype)), torch.from_numpy(Y.argmax(1))

    def run():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            opt.step()

    return run


def numpy_rows() -> list:
    """[(network, dtype, numpy examples/s, torch examples/s, numpy without its update examples/s)]
    for this process's BLAS set-up."""
    batch, steps = 256, 20
    rng = np.random.default_rng(0)
    rows = []
    for sizes in ((784, 256, 10), (784, 1024, 1024, 10)):
        X = rng.normal(size=(batch, sizes[0]))
        Y = np.eye(sizes[-1])[rng.integers(sizes[-1], size=batch)]
        for dtype in (np.float32, np.float64):
            t = interleaved_blocks(
                {
                    "numpy": numpy_step_fn(sizes, dtype, X, Y, steps),
                    "torch": _torch_step_fn(sizes, dtype, X, Y, steps),
                    "no update": numpy_step_fn(sizes, dtype, X, Y, steps, update=False),
                },
                7,
                3,
            )
            rows.append(
                (
                    "-".join(map(str, sizes)),
                    np.dtype(dtype).name,
                    batch * steps / t["numpy"],
                    batch * steps / t["torch"],
                    batch * steps / t["no update"],
                )
            )
    return rows


def _blas_kernel() -> str:
    try:
        from threadpoolctl import threadpool_info

        return next(
            (i.get("architecture") or "?") for i in threadpool_info() if i["user_api"] == "blas"
        )
    except (ImportError, StopIteration):
        return "?"


def numpy_vs_torch(**_) -> str:
    import json
    import subprocess
    import sys

    setups = [(f"as set up here (OpenBLAS kernel {_blas_kernel()})", numpy_rows())]
    if os.environ.get("OPENBLAS_CORETYPE"):
        # This machine pins OpenBLAS to an older kernel (OPENBLAS_CORETYPE) for old-CPU safety;
        # measure numpy's own choice too, in a child process with the variables unset.
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        }
        code = (
            "import json; from bench.eager import numpy_rows, _blas_kernel; "
            "print(json.dumps([_blas_kernel(), numpy_rows()]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        kernel, rows = json.loads(out.stdout.strip().splitlines()[-1])
        setups.append((f"OPENBLAS_CORETYPE unset (OpenBLAS kernel {kernel})", rows))
    lines = [
        "## 1. numpy_nn vs torch eager: MLP training throughput",
        "",
        "Batch 256: forward, cross-entropy, backward, SGD-momentum update; 20 steps per timing, "
        "7 rounds of alternating blocks of 3 timings, median over all but each block's first (the "
        "first timing after a switch pays for the other library's threads handing the cores back; "
        "single interleaved timings charged that to torch, up to 1.45x). Goal: numpy_nn >= 1.0x torch at 784-1024-1024-10 in float32. numpy_nn skips the first layer's dL/dX (the data needs none), as torch does. "
        "The last column times numpy_nn without its SGD update (forward, loss and backward only) "
        "against torch with its update: how close a free update would bring numpy_nn.",
        "",
        "| BLAS set-up | network | dtype | numpy_nn (examples/s) | torch (examples/s) | numpy_nn / torch | numpy_nn without update / torch |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for label, rows in setups:
        for net, dtype, ours, theirs, no_update in rows:
            lines.append(
                f"| {label} | {net} | {dtype} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f} "
                f"| {no_update / theirs:.2f} |"
            )
    return "\n".join(lines)


# -- 6. numpy_nn Conv2D vs torch -------------------------------------------------------------------
CONV_SHAPES = [  # (batch, height, width, c_in, c_out): the shapes, 3x3 "same"
    (64, 32, 32, 3, 32),
    (64, 16, 16, 32, 64),
    (32, 8, 8, 128, 128),
]


def conv_rows(repeats: int = 7) -> list:
    """(shape, numpy_nn ms, torch ms) per shape: forward + backward (dX, dW, db), float32."""
    import torch
    import torch.nn.functional as F

    from numpy_nn.conv import Conv2D

    rows = []
    rng = np.random.default_rng(0)
    for n, h, w, c, f in CONV_SHAPES:
        X = rng.normal(size=(n, h, w, c)).astype(np.float32)
        G = rng.normal(size=(n, h, w, f)).astype(np.float32)
        layer = Conv2D(f, 3, "linear", seed=0)
        layer.forward(X)
        x = torch.from_numpy(X.transpose(0, 3, 1, 2).copy()).requires_grad_()
        weight = torch.from_numpy(
            layer.parameters["W"].transpose(3, 2, 0, 1).copy()
        ).requires_grad_()
        bias = torch.zeros(f, requires_grad=True)
        g = torch.from_numpy(G.transpose(0, 3, 1, 2).copy())

        def ours(layer=layer, X=X, G=G):
            layer.forward(X)
            layer.backward(G)

        def theirs(x=x, weight=weight, bias=bias, g=g):
            y = F.conv2d(x, weight, bias, padding=1)
            x.grad = weight.grad = bias.grad = None
            y.backward(g)

        times = interleaved_blocks({"numpy_nn": ours, "torch": theirs}, repeats)
        rows.append((f"{n}x{h}x{w}x{c} -> {f}", times["numpy_nn"] * 1000, times["torch"] * 1000))
    return rows


def conv(**_) -> str:
    lines = [
        "## 6. numpy_nn Conv2D vs torch: forward + backward",
        "",
        '3x3 "same" convolution, float32, NHWC for numpy_nn and NCHW for `torch.nn.functional.conv2d`; '
        "one forward and one backward (dX, dW, db) per call; 7 rounds of alternating blocks of 5 calls, "
        "median over all calls but each block's first. "
        "Goal: numpy_nn >= 0.5x torch's throughput. "
        f"OpenBLAS kernel {_blas_kernel()}.",
        "",
        "| shape (n x h x w x c_in -> c_out) | numpy_nn (ms) | torch (ms) | numpy_nn / torch throughput |",
        "|---|---:|---:|---:|",
    ]
    for shape, ours, theirs in conv_rows():
        lines.append(f"| {shape} | {ours:.1f} | {theirs:.1f} | {theirs / ours:.2f} |")
    return "\n".join(lines)

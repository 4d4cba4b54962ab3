"""Sections 11 and 12: where a numpy-backed training step goes, and that step against its torch twin."""

import statistics
import time

import numpy as np

from bench.bridge import CNN_CONFIGS
from bench.eager import numpy_step_fn
from bench.machine import ROOT, child_rows, interleaved_blocks

# -- 11. where a numpy-backed training step goes -----------------------------------------------


def _gemm_shapes(layer, x_shape, y_shape, input_gradient: bool = True) -> list:
    """The matrix products a layer's forward and backward make: (m, k, n) each (without dX's
    when ``input_gradient`` is False, as for the network's first layer)."""
    if type(layer).__name__ == "FullyConnected":
        (n, i), o = x_shape, y_shape[1]
        return [(n, i, o), (i, n, o)] + [
            (n, o, i)
        ] * input_gradient  # Z = X W; dW = X^T D; dX = D W^T
    if type(layer).__name__ == "Conv2D" and layer.algorithm == "winograd":
        # 16 products per pass, one per position of the 4x4 tile, over every 2x2 output tile:
        # M = V U; dU = V^T dM; dV = dM U^T
        c, f = layer.parameters["W"].shape[2:]
        tiles = y_shape[0] * ((y_shape[1] + 1) // 2) * ((y_shape[2] + 1) // 2)
        return [(tiles, c, f), (c, tiles, f)] * 16 + [(tiles, f, c)] * (16 * input_gradient)
    if type(layer).__name__ == "Conv2D":
        kh, kw, c, f = layer.parameters["W"].shape
        rows = y_shape[0] * y_shape[1] * y_shape[2]
        # Z = C W; dW = C^T D; dX: kh*kw products D W_ij^T (col2im offset by offset)
        return [(rows, kh * kw * c, f), (kh * kw * c, rows, f)] + [(rows, f, c)] * (
            kh * kw * input_gradient
        )
    return []


def _gemm_ms(shapes, dtype, repeats: int = 5) -> float:
    """What the products alone take, called directly on arrays of their shapes and shared out
    over the cores as numpy_nn's layers share them (``numpy_nn.threads.matmul``)."""
    from numpy_nn import threads

    if not shapes:
        return 0.0
    rng = np.random.default_rng(0)
    pairs = [
        (rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))
        for m, k, n in shapes
    ]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for a, b in pairs:
            threads.matmul(a, b)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def _profile_layers(config: str, batch: int, repeats: int = 7) -> list:
    """(layer, output shape, forward ms, backward ms, products ms) of one training step of a
    numpy-backed config's layers (float32, as the config trains), medians of ``repeats`` after
    two passes untimed (the first builds the parameters, the second settles the heap)."""
    from commands.cli import resolve_config
    from numpy_nn.layers import initialize_layer

    net = resolve_config(str(ROOT / "configs" / config))["model"]["network"]["init_args"]
    c, h, w = net["input_shape"]
    dtype = np.dtype(net.get("dtype") or "float32")
    x = np.random.default_rng(0).standard_normal((batch, h, w, c)).astype(dtype)
    layers = [initialize_layer(seed=i, **spec) for i, spec in enumerate(net["layers"])]
    shapes, fwd, bwd = [], [[] for _ in layers], [[] for _ in layers]
    for _ in range(repeats + 2):
        outs = [x]
        for i, layer in enumerate(layers):
            t = time.perf_counter()
            outs.append(layer.forward(outs[-1]))
            fwd[i].append(time.perf_counter() - t)
        grad = np.ones_like(outs[-1]) / outs[-1].size
        for i in reversed(range(len(layers))):
            t = time.perf_counter()
            if i == 0 and layers[0].skips_input_gradient:  # the data needs no gradient
                grad = layers[0].backward(grad, input_gradient=False)
            else:
                grad = layers[i].backward(grad)
            bwd[i].append(time.perf_counter() - t)
        shapes = [o.shape for o in outs]
    rows = []
    for i, (layer, spec) in enumerate(zip(layers, net["layers"])):
        products = _gemm_shapes(layer, shapes[i], shapes[i + 1], input_gradient=i > 0)
        gemm = _gemm_ms(products, dtype)
        ms = [1000 * statistics.median(t[2:]) for t in (fwd[i], bwd[i])]
        rows.append((spec["name"], shapes[i + 1][1:], ms[0], ms[1], gemm))
    return rows


def _mlp_profile(repeats: int = 7) -> tuple[float, float]:
    """(numpy_nn MLP step ms, its products alone ms): 784-1024-1024-10, float32, batch 256."""
    rng = np.random.default_rng(0)
    sizes, n = (784, 1024, 1024, 10), 256
    X = rng.standard_normal((n, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    step = numpy_step_fn(sizes, np.float32, X, Y, 1)
    step()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    shapes = []
    for i, o in zip(sizes, sizes[1:]):
        shapes += [(n, i, o), (i, n, o), (n, o, i)]
    return 1000 * statistics.median(times), _gemm_ms(
        shapes[:-1], np.float32, repeats
    )  # no dX of the input


def profile_rows() -> tuple:
    """([rows of each CNN_CONFIGS network], (MLP step ms, its products ms)), for a child process."""
    return [
        _profile_layers(config, batch) for config, batch in CNN_CONFIGS.values()
    ], _mlp_profile()


def profile(**_) -> str:
    """Section 11: every layer's forward and backward in one training step of each numpy-backed
    network, beside what its matrix products take called directly (the floor)."""
    lines = [
        "## 11. Where a numpy-backed training step goes",
        "",
        "One training step of the numpy layers alone (no Lightning, no bridge), float32, "
        "in a fresh process set up as `train.py` runs numpy backends, median of 7 after two "
        "passes; the first layer skips dL/dX of the data, as the network does; *products* is what the layer's matrix products take "
        "called directly on arrays of their shapes, shared over the cores as the layers share "
        "them (BLAS runs each call on one core here, as in `train.py`: the BLAS floor), *rest* the difference: "
        "pooling, batch norm, activations, window copies, the col2im scatter, Winograd's "
        "transforms (a layer with `algorithm: winograd` counts its 16 products per pass), "
        "temporaries. "
        "Products timed apart, on fresh arrays, can take longer than inside the layer (a "
        "negative rest, for the small late convolutions): read *rest* to a few ms.",
        "",
    ]
    profiles, (mlp_step, mlp_gemm) = child_rows("bench.steps", "profile_rows")
    for (title, (_, batch)), rows in zip(CNN_CONFIGS.items(), profiles):
        lines += [
            f"**{title}, batch {batch}**",
            "",
            "| layer | output | forward ms | backward ms | products ms | rest ms |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for name, shape, f, b, g in rows:
            lines.append(
                f"| {name} | {'x'.join(map(str, shape))} | {f:.1f} | {b:.1f} | {g:.1f} | {f + b - g:.1f} |"
            )
        total, gemm = sum(r[2] + r[3] for r in rows), sum(r[4] for r in rows)
        lines += [
            f"| **total** | | | **{total:.1f}** | **{gemm:.1f}** | **{total - gemm:.1f}** |",
            "",
            f"Step / products alone: {total / gemm:.2f}x.",
            "",
        ]
    lines += [
        "**numpy_nn MLP 784-1024-1024-10, float32, batch 256** (forward, loss, backward, SGD "
        f"with momentum): {mlp_step:.1f} ms a step; its products alone {mlp_gemm:.1f} ms: "
        f"**{mlp_step / mlp_gemm:.2f}x** (issue 32's goal: 1.15x)."
    ]
    return "\n".join(lines)


# -- 12. the numpy-backed CNNs against their torch twins -----------------------------------------
def twin_rows(before: bool = False, repeats: int = 5, block: int = 4) -> list:
    """[(network, batch, numpy-backed ms, torch twin ms)]: one training step (zero the
    gradients, forward, cross-entropy, backward, SGD with Nesterov momentum and weight decay) of
    each numpy-backed config's network through the bridge and of its torch-native twin, float32,
    on the same random batch, in alternating blocks. ``before``: numpy_nn as before issue 42,
    every convolution im2col (the config's ``algorithm`` choices dropped) and every pass in one
    piece (``numpy_nn.threads`` off), for a process whose BLAS uses every core
    (``twin_rows_before``)."""
    import torch
    import torch.nn.functional as F

    from commands.cli import resolve_config
    from lightning_hw.networks import LayerStack
    from numpy_nn import threads

    if before:
        threads.MIN_BYTES, threads.BLAS_ONE_CORE = 1 << 62, False
    rows = []
    for label, (config, batch) in CNN_CONFIGS.items():
        net_args = resolve_config(str(ROOT / "configs" / config))["model"]["network"]["init_args"]
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, *net_args["input_shape"], generator=g)
        y = torch.randint(0, 10, (batch,), generator=g)
        im2col = [
            {k: v for k, v in spec.items() if k != "algorithm"} for spec in net_args["layers"]
        ]
        steps = {}
        for backend, specs in (
            ("numpy", im2col if before else net_args["layers"]),
            ("torch", im2col),
        ):
            net = LayerStack(specs, net_args["input_shape"], backend, seed=0)
            opt = torch.optim.SGD(
                net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4
            )

            def step(net=net, opt=opt, x=x, y=y):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()
                opt.step()

            steps[backend] = step
        t = interleaved_blocks(steps, repeats, block)
        rows.append((label, batch, t["numpy"] * 1e3, t["torch"] * 1e3))
    return rows


def twin_rows_before() -> list:
    """``twin_rows(before=True)``, for a child process started without
    ``OPENBLAS_NUM_THREADS=1`` (the environment numpy-backed runs had before issue 42)."""
    return twin_rows(before=True)


def twins(**_) -> str:
    """Section 12: issue 32's goals, numpy-backed step / torch twin <= 1.3x (Fashion) and <= 1.5x
    (CIFAR)."""
    goals = {"Fashion": 1.3, "CIFAR": 1.5}
    lines = [
        "## 12. Numpy-backed CNNs against their torch twins: a training step",
        "",
        "One training step (zero the gradients, forward, cross-entropy, backward, SGD with "
        "Nesterov momentum and weight decay) of each numpy-backed config's network through the "
        "bridge (`backend: numpy`) and of its torch-native twin (`backend: torch`, the same "
        "initial weights), float32, the same random batch, in one process with "
        "`OMP_WAIT_POLICY=PASSIVE` and `OPENBLAS_NUM_THREADS=1` (as `train.py` runs numpy "
        "backends: numpy_nn shares each layer's batch out over the cores itself); alternating "
        "blocks of 4 steps, 5 rounds, median of all but each block's first. *Before*: the same "
        "numpy-backed network as before issue 42, every convolution im2col (the config's "
        "`algorithm: winograd` choices dropped), every pass of numpy_nn in one piece and BLAS "
        "on every core (`OPENBLAS_NUM_THREADS` unset), against the twin in the same blocks of "
        "its own process (BLAS's idle threads there slow the twin too).",
        "",
        "| network | batch | numpy-backed (ms) | torch twin (ms) | ratio | before (ms) "
        "| its twin (ms) | ratio before | goal |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    now = child_rows("bench.steps", "twin_rows")
    then = child_rows("bench.steps", "twin_rows_before", before_issue_42=True)
    for (label, batch, ours, theirs), (_, _, before, twin) in zip(now, then, strict=True):
        goal = next(v for k, v in goals.items() if label.startswith(k))
        lines.append(
            f"| {label} | {batch} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x | "
            f"{before:.1f} | {twin:.1f} | {before / twin:.2f}x | <= {goal}x |"
        )
    return "\n".join(lines)

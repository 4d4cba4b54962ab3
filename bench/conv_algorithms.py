"""Section 14: im2col or Winograd, for each 3x3 stride-1 convolution of the numpy-backed CNNs.

``Conv2D(algorithm=...)`` computes the same convolution two ways (numpy_nn/conv.py,
numpy_nn/winograd.py); which is faster depends on the layer's shape, so each config names its
choice per layer (``algorithm: winograd``), from this table."""

import numpy as np

from bench.bridge import CNN_CONFIGS
from bench.machine import ROOT, child_rows, interleaved_blocks


def _conv_inputs(config: str, batch: int) -> list:
    """[(layer index, spec, input shape)] of every 3x3 stride-1 conv2d of a config's network."""
    from commands.cli import resolve_config
    from lightning_hw.networks.stack import build_layers, trace_shapes

    net = resolve_config(str(ROOT / "configs" / config))["model"]["network"]["init_args"]
    specs, (c, h, w) = net["layers"], net["input_shape"]
    shapes = trace_shapes(build_layers(specs, 0), (h, w, c))  # numpy_nn's images are NHWC
    return [
        (i, spec, (batch, *shapes[i][1:]))
        for i, spec in enumerate(specs)
        if spec["name"] == "conv2d"
        and spec.get("kernel_shape") in (3, [3, 3], (3, 3))
        and spec.get("stride", 1) == 1
    ]


def algorithm_rows(repeats: int = 5, block: int = 4) -> list:
    """[(network, layer index, input shape, n_out, config's algorithm, im2col ms, winograd ms)]:
    the layer's forward and backward (dX too, but for the first layer, as in training),
    float32, on the same random batch, the two algorithms in alternating blocks."""
    from numpy_nn.conv import Conv2D

    rows = []
    for label, (config, batch) in CNN_CONFIGS.items():
        for i, spec, shape in _conv_inputs(config, batch):
            rng = np.random.default_rng(i)
            X = rng.standard_normal(shape).astype(np.float32)
            steps = {}
            for algorithm in ("im2col", "winograd"):
                options = {k: v for k, v in spec.items() if k not in ("name", "algorithm")}
                layer = Conv2D(**options, seed=0, algorithm=algorithm)
                dY = np.ones_like(layer.forward(X))

                def step(layer=layer, X=X, dY=dY, first=i == 0):
                    layer.forward(X)
                    layer.backward(dY, input_gradient=not first)

                steps[algorithm] = step
            t = interleaved_blocks(steps, repeats, block)
            chosen = spec.get("algorithm", "im2col")
            rows.append(
                (label, i, list(shape[1:]), spec["n_out"], chosen, *(1e3 * v for v in t.values()))
            )
    return rows


def algorithms(**_) -> str:
    """Section 14: each 3x3 stride-1 convolution of the numpy-backed configs, im2col vs
    Winograd F(2x2, 3x3), and what the config chose."""
    lines = [
        "## 14. im2col or Winograd: each 3x3 convolution of the numpy-backed CNNs",
        "",
        "One layer's forward and backward (its input gradient too, but for the first layer, as "
        "in training), float32, the config's batch, im2col (`Conv2D`'s default) and Winograd "
        "F(2x2, 3x3) (`algorithm: winograd`) in alternating blocks of 4 calls, 5 rounds, median "
        "of all but each block's first, in a child process set up as `train.py` runs numpy "
        "backends. A config names `algorithm: winograd` for a layer where Winograd wins here.",
        "",
        "| network | layer | input (h, w, c) | n_out | im2col (ms) | Winograd (ms) | "
        "Winograd / im2col | config uses |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for label, i, shape, f, chosen, im2col, wino in child_rows(
        "bench.conv_algorithms", "algorithm_rows"
    ):
        lines.append(
            f"| {label} | {i} | {'x'.join(map(str, shape))} | {f} | {im2col:.1f} | {wino:.1f} | "
            f"{wino / im2col:.2f}x | {chosen} |"
        )
    return "\n".join(lines)

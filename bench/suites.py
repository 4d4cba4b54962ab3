"""The benchmarks. Each returns a markdown section; ``SUITES`` lists them in report order."""

import datetime
import functools
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from lightning_hw import runs

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux)."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def cpu_features() -> str:
    """Which of the instruction-set features that decide our speeds this CPU has."""
    info = Path("/proc/cpuinfo")
    flags = set()
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("flags"):
                flags |= set(line.split(":", 1)[1].split())
    if not flags:
        return "features unknown (no /proc/cpuinfo)"
    have = [f for f in FEATURES if f in flags]
    lacks = [f for f in FEATURES if f not in flags]
    return f"has {', '.join(have) or 'none of ' + ', '.join(FEATURES)}" + (
        f"; lacks {', '.join(lacks)}" if lacks else ""
    )


def speed_reference(repeats: int = 5) -> dict:
    """A fixed yardstick of this machine's speed, to take right before a timing: a 1024^3
    float32 matrix product in numpy (its BLAS) and one float32 convolution step in torch
    (``F.conv2d`` forward and backward, 64 x 64 x 32 x 32 -> 64 channels, 3x3), median ms of
    ``repeats`` each. Neither runs this repository's code, so when a figure moves and the
    reference does not, the code moved; when both move, the machine did."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((1024, 1024), dtype=np.float32) for _ in range(2))
    x = torch.randn(64, 64, 32, 32, requires_grad=True)
    w = torch.randn(64, 64, 3, 3, requires_grad=True)

    def conv():
        F.conv2d(x, w, padding=1).sum().backward()

    times = {}
    for name, fn in (("gemm_ms", lambda: a @ b), ("conv_ms", conv)):
        fn()
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - t)
        times[name] = 1000 * statistics.median(runs)
    return times


def reference_text(reference: dict) -> str:
    return (
        f"machine-speed reference just before: 1024^3 GEMM {reference['gemm_ms']:.1f} ms, "
        f"torch conv step {reference['conv_ms']:.1f} ms"
    )


def dated(section: str, reference: dict | None = None) -> str:
    """The section with the date and machine it was measured on (and the speed reference taken
    right before it), under its heading."""
    heading, _, body = section.partition("\n")
    speed = f"; {reference_text(reference)}" if reference else ""
    stamp = (
        f"*Measured {datetime.date.today()} on {cpu_model()} ({platform.machine()}, "
        f"{os.cpu_count()} cores){speed}.*"
    )
    return f"{heading}\n\n{stamp}\n{body}"


def _interleaved_blocks(fns: dict, repeats: int = 7, block: int = 5) -> dict:
    """{name: median seconds per call}, alternating blocks of ``block`` calls of each function and
    timing all but a block's first call: the first call after a switch pays for the other
    library's thread pool handing the cores back (OpenBLAS and OpenMP threads spin-wait a while
    after their work), which single interleaved calls would charge to every call."""
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            f()
            for _ in range(block - 1):
                t = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def _child_rows(function: str) -> list:
    """``bench.suites.<function>()`` in a fresh child process set up as ``train.py`` runs numpy
    backends (``OMP_WAIT_POLICY=PASSIVE`` before torch is imported, freed memory kept): its JSON
    rows. A fresh process also has a fresh heap: earlier sections' arrays do not change how
    this one's large buffers are placed (and page-faulted)."""
    import json
    import subprocess
    import sys

    code = (
        "import json; from commands.allocator import keep_freed_memory; keep_freed_memory(); "
        f"from bench.suites import {function}; print(json.dumps({function}()))"
    )
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- 1. numpy_nn vs torch eager ------------------------------------------------------------------
def _numpy_step_fn(sizes, dtype, X, Y, steps, update=True):
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
            t = _interleaved_blocks(
                {
                    "numpy": _numpy_step_fn(sizes, dtype, X, Y, steps),
                    "torch": _torch_step_fn(sizes, dtype, X, Y, steps),
                    "no update": _numpy_step_fn(sizes, dtype, X, Y, steps, update=False),
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
    import os
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
            "import json; from bench.suites import numpy_rows, _blas_kernel; "
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


# -- 2. bridge overhead inside Lightning ------------------------------------------------------------
def _lightning_fit_fn(backend, n_features, hidden, n_classes, loader_fn, steps):
    import logging

    import pytorch_lightning as pl
    import torch

    from lightning_hw.classifier import Classifier
    from lightning_hw.networks import IrisFFNN

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)

    def run():
        net = IrisFFNN(backend, hidden=hidden, n_features=n_features, n_classes=n_classes, seed=0)
        sgd = functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9)
        model = Classifier(net, num_classes=n_classes, optimizer=sgd)
        trainer = pl.Trainer(
            max_steps=steps,
            limit_val_batches=0,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
        )
        trainer.fit(model, train_dataloaders=loader_fn())

    return run


def bridge_rows() -> list:
    """[(network, batch, steps, numpy-backed ms/step, torch-native ms/step)] in this process."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lightning_hw.datamodules import IrisDataModule

    def iris():
        dm = IrisDataModule(batch_size=16, seed=0)
        dm.setup()
        return dm.train_dataloader()

    g = torch.Generator().manual_seed(0)
    fx, fy = torch.randn(8192, 784, generator=g), torch.randint(0, 10, (8192,), generator=g)

    def fashion_sized():
        return DataLoader(TensorDataset(fx, fy), batch_size=256, shuffle=True)

    rows = []
    for label, (nf, h, nc, loader, batch, steps) in {
        "Iris 4-25-3": (4, 25, 3, iris, 16, 140),
        "Fashion-sized 784-1024-10": (784, 1024, 10, fashion_sized, 256, 64),
    }.items():
        t = _interleaved_blocks(
            {b: _lightning_fit_fn(b, nf, h, nc, loader, steps) for b in ("numpy", "torch")}, 5, 2
        )
        rows.append((label, batch, steps, t["numpy"] / steps * 1e3, t["torch"] / steps * 1e3))
    return rows


def bridge_overhead(**_) -> str:
    """Each setting in a child process: OMP_WAIT_POLICY must be fixed before torch is imported."""
    import json
    import os
    import subprocess
    import sys

    lines = [
        "## 2. Bridge overhead: a Lightning training step, numpy-backed vs torch-native",
        "",
        "The same network (`IrisFFNN`) with `backend: numpy` (numpy_nn layers through the autograd "
        "bridge) and `backend: torch`, in one process; wall time of `trainer.fit` over a fixed number "
        "of steps (Lightning's own per-step work included), 5 rounds of alternating blocks of 2 "
        "fits, median of each block's second. "
        "Goal <= 1.1x on the Fashion-sized network. `train.py` sets `OMP_WAIT_POLICY=PASSIVE` for numpy-backed runs (see below).",
        "",
        "| OpenMP wait policy | network | batch | steps | numpy-backed (ms/step) | torch-native (ms/step) | ratio |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    code = "import json; from bench.suites import bridge_rows; print(json.dumps(bridge_rows()))"
    for policy in ("default (spin)", "PASSIVE"):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy == "PASSIVE":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        for label, batch, steps, a, b in json.loads(out.stdout.strip().splitlines()[-1]):
            lines.append(
                f"| {policy} | {label} | {batch} | {steps} | {a:.2f} | {b:.2f} | {a / b:.2f}x |"
            )
    return "\n".join(lines)


# -- 3/4. time to accuracy ---------------------------------------------------------------------------
def _train_config(config: str, data_dir, extra=()) -> dict:
    """Train a config as a user does: ``python train.py`` in its own process (nothing an earlier
    benchmark left behind, such as BLAS threads still spinning, slows it). The wall time includes
    the start-up; returns {"history", "test", "wall"}."""
    import json
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as logs:
        args = [
            sys.executable,
            str(ROOT / "train.py"),
            "--config",
            str(ROOT / "configs" / config),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger.init_args.save_dir",
            logs,
            *extra,
        ]
        if data_dir:
            args += ["--data.init_args.data_dir", str(data_dir)]
        start = time.perf_counter()
        subprocess.run(args, cwd=logs, check=True, capture_output=True)
        wall = time.perf_counter() - start
        run = runs.only_run(logs, Path(config).stem)
        return {
            "history": json.loads((run / "metrics.json").read_text()),
            "test": json.loads((run / "test_metrics.json").read_text()),
            "wall": wall,
        }


def _time_to(history: dict, target: float):
    elapsed = 0.0
    for acc, sec in zip(history["val/acc"], history["seconds"]):
        elapsed += sec
        if acc >= target:
            return elapsed
    return None


def _run_cells(r: dict) -> str:
    """A training run's table cells: epochs, training time, time to 90%, test accuracy, wall."""
    h = r["history"]
    t90 = _time_to(h, 0.90)
    return (
        f"{len(h['seconds'])} | {sum(h['seconds']):.0f} s | "
        f"{f'{t90:.0f} s' if t90 else 'not reached'} | {r['test']['test/acc']:.4f} | {r['wall']:.0f} s |"
    )


def fashion(data_dir=None, **_) -> str:
    lines = [
        "## 3. Fashion-MNIST MLP, default config (`configs/fashion_mlp.yaml`)",
        "",
        "The config's seed (0), then two others: the spread between seeds is part of the result.",
        "",
        "| seed | epochs | training time | time to 90% on the per-epoch test-split evaluation | final test accuracy | wall time of `python train.py` (start-up, loading, test) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for seed in (0, 1, 2):
        r = _train_config("fashion_mlp.yaml", data_dir, ["--seed_everything", str(seed)])
        lines.append(f"| {seed} | {_run_cells(r)}")
    return "\n".join(lines)


CIFAR_CONFIGS = ("cifar_cnn.yaml", "cifar_cnn94.yaml")  # the second only with --cifar94


def _rows_by_config(section: str) -> dict:
    """{config: table row} of an earlier section 4, each row ending in the date it was measured
    (rows written before rows carried a date take their section's)."""
    found = re.search(r"\*Measured (\d{4}-\d\d-\d\d)", section)
    rows = {}
    for line in section.splitlines():
        name = re.match(r"\| `([\w.]+)` \|", line)
        if name:
            cells = line.strip().strip("|").split("|")
            if len(cells) == 6 and found:  # no date column yet
                line = f"{line.rstrip()} {found.group(1)} |"
            rows[name.group(1)] = line.rstrip()
    return rows


def cifar(data_dir=None, cifar94=False, previous=None, **_) -> str:
    """Train the default config (and with ``cifar94`` the >= 94% one); a config not trained this
    time keeps its row from the last run, with that run's date."""
    kept = _rows_by_config((previous or {}).get("## 4. ", ""))
    lines = [
        "## 4. CIFAR-10 CNN",
        "",
        "Each row is one `python train.py --config configs/<config>` run; `python -m bench --cifar` "
        "retrains the default config only and keeps the other row, with the date it was measured.",
        "",
        "| config | epochs | training time | time to 90% on the per-epoch test-split evaluation | test accuracy (TTA) | wall time of `python train.py` | measured |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for config in CIFAR_CONFIGS:
        if config == "cifar_cnn94.yaml" and not cifar94:
            if config in kept:
                lines.append(kept[config])
            continue
        run = _run_cells(_train_config(config, data_dir))
        lines.append(f"| `{config}` | {run} {datetime.date.today()} |")
    return "\n".join(lines)


# -- 5. numpy_nn on Iris ----------------------------------------------------------------------------
def iris(**_) -> str:
    from numpy_nn.experiment import DEFAULTS, run, sweep

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = run(DEFAULTS, save_dir=d)
        one = time.perf_counter() - t
        t = time.perf_counter()
        s = sweep(DEFAULTS, save_dir=d)
        all_ = time.perf_counter() - t
    return "\n".join(
        [
            "## 5. numpy_nn on Iris",
            "",
            "| job | wall time (incl. saving and plots) | result |",
            "|---|---:|---|",
            f"| default run (`python train_ffnn.py`, {DEFAULTS.epochs} epochs) | {one:.2f} s | "
            f"test error {r['test_error']:.3f} |",
            f"| sweep (`--sweep`, {len(s['runs'])} runs) | {all_:.2f} s | best lr={s['best']['options']['lr']:g}, "
            f"hidden={s['best']['options']['hidden']} |",
        ]
    )


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

        times = _interleaved_blocks({"numpy_nn": ours, "torch": theirs}, repeats)
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


# -- 7. the bridge on CNNs: NumpyModule vs numpy_nn's own step --------------------------------------
CNN_CONFIGS = {  # the numpy-backed CNNs timed (sections 7, 11, 12): (config, batch)
    "Fashion CNN (configs/fashion_cnn_numpy.yaml)": ("fashion_cnn_numpy.yaml", 128),
    "CIFAR-10 CNN (configs/cifar_cnn_numpy.yaml)": ("cifar_cnn_numpy.yaml", 256),
}


def bridge_cnn_rows(repeats: int = 5) -> list:
    """[(network, batch, numpy_nn ms, bridge ms)]: one forward + backward of the same layers
    (the same objects, so the same weights), with the softmax cross-entropy gradient, either
    called directly in numpy or as ``LayerStack(backend="numpy")`` under torch autograd."""
    import torch
    import torch.nn.functional as F

    from commands.cli import resolve_config
    from lightning_hw.bridge import NumpyModule
    from lightning_hw.networks import LayerStack

    rows = []
    for label, (config, batch) in CNN_CONFIGS.items():
        net_args = resolve_config(str(ROOT / "configs" / config))["model"]["network"]["init_args"]
        net = LayerStack(net_args["layers"], net_args["input_shape"], "numpy", seed=0)
        layers = [m.layer for m in net.layers if isinstance(m, NumpyModule)]
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, *net_args["input_shape"], generator=g)
        y = torch.randint(0, 10, (batch,), generator=g)
        X, onehot = x.permute(0, 2, 3, 1).numpy(), np.eye(10, dtype=np.float32)[y.numpy()]

        def numpy_step(X=X, onehot=onehot, layers=layers, net=net):
            for m in net.layers:  # the bindings the bridge made: parameters and running stats
                if isinstance(m, NumpyModule):
                    m.layer.parameters = {n: getattr(m, n).detach().numpy() for n in m.names}
            out = X
            for layer in layers:
                out = layer.forward(out)
            p = np.exp(out - out.max(axis=1, keepdims=True))
            grad = (p / p.sum(axis=1, keepdims=True) - onehot) / len(out)
            for layer in reversed(layers):
                grad = layer.backward(grad)

        def bridge_step(x=x, y=y, net=net):
            net.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()

        t = _interleaved_blocks({"numpy_nn": numpy_step, "bridge": bridge_step}, repeats, 3)
        rows.append((label, batch, t["numpy_nn"] * 1e3, t["bridge"] * 1e3))
    return rows


def bridge_cnn(**_) -> str:
    """In a child process set up as ``train.py`` runs numpy backends."""
    lines = [
        "## 7. The bridge on CNNs: numpy_nn's own step vs the same layers under torch autograd",
        "",
        "One forward + backward (softmax cross-entropy gradient included, no optimizer step) of the "
        "numpy-backed networks of the configs named, float32, random inputs: the numpy_nn layers "
        "called directly, then the same layer objects through `NumpyModule` (`LayerStack`, "
        "`backend: numpy`). Alternating blocks of 3 calls, 5 rounds, median. Goal: the bridge "
        "<= 1.2x.",
        "",
        "| network | batch | numpy_nn (ms) | through the bridge (ms) | bridge / numpy_nn |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, batch, ours, bridged in _child_rows("bridge_cnn_rows"):
        lines.append(f"| {label} | {batch} | {ours:.1f} | {bridged:.1f} | {bridged / ours:.2f}x |")
    return "\n".join(lines)


# -- 8. precision: auto where bf16 is emulated -----------------------------------------------------
def _config_steps(
    config: str, env: dict, data_dir, steps: int, batch: int, precision: str | None = None
) -> tuple:
    """(ms per training step, the precision the run used) of ``steps`` steps of a config's
    training run at ``batch``, through ``train.py`` in a child process (its own environment)."""
    import json
    import subprocess
    import sys

    stem = Path(config).stem
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            sys.executable,
            str(ROOT / "train.py"),
            "--config",
            str(ROOT / "configs" / config),
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            str(steps),
            "--trainer.limit_val_batches",
            "0",
            "--trainer.limit_test_batches",
            "1",
            "--trainer.enable_progress_bar",
            "false",
            "--data.init_args.batch_size",
            str(batch),
            "--trainer.logger.init_args.save_dir",
            tmp,
        ]
        if precision:
            args += ["--trainer.precision", precision]
        if data_dir:
            args += ["--data.init_args.data_dir", str(data_dir)]
        subprocess.run(args, env={**os.environ, **env}, cwd=tmp, check=True, capture_output=True)
        run = runs.only_run(tmp, stem)
        used = next(
            line.split(":", 1)[1].strip()
            for line in (run / "config.yaml").read_text().splitlines()
            if line.strip().startswith("precision:")
        )
        return json.loads((run / "metrics.json").read_text())["step_ms"][0], used


def precision(data_dir=None, **_) -> str:
    lines = [
        "## 8. `precision: auto` on a CPU without native bf16",
        "",
        "Four training steps of `configs/cifar_cnn.yaml` at batch 256 (mean ms per step, first step "
        "included) with oneDNN capped as on CPUs without bf16 (`ONEDNN_MAX_CPU_ISA`), each run in its "
        "own process: the default `precision: auto` against `32-true` and the emulated `bf16-mixed`. "
        "Goal: auto within 1.25x of 32-true.",
        "",
        "| ONEDNN_MAX_CPU_ISA | precision asked | precision used | ms / step | vs 32-true |",
        "|---|---|---|---:|---:|",
    ]
    for cap in ("AVX2", "AVX512_CORE", "(unset: this machine's)"):
        env = {"ONEDNN_MAX_CPU_ISA": cap} if cap.isupper() else {}
        times = {}
        for asked in ("32-true", "auto", "bf16-mixed"):
            times[asked] = _config_steps("cifar_cnn.yaml", env, data_dir, 4, 256, asked)
        base = times["32-true"][0]
        for asked, (ms, used) in times.items():
            lines.append(f"| {cap} | {asked} | {used} | {ms:.0f} | {ms / base:.2f}x |")
    return "\n".join(lines)


# -- 9. the allocator: freed buffers reused, not page-faulted in again -------------------------------
ALLOCATOR_RUNS = {  # label: (config, steps), each at its config's own batch size
    "CIFAR-10 CNN, torch (configs/cifar_cnn.yaml)": ("cifar_cnn.yaml", 12),
    "Fashion CNN, numpy_nn through the bridge (configs/fashion_cnn_numpy.yaml)": (
        "fashion_cnn_numpy.yaml",
        20,
    ),
    "Fashion MLP, torch (configs/fashion_mlp.yaml)": ("fashion_mlp.yaml", 40),
}


def _config_batch(config: str) -> int:
    import yaml

    return int(
        yaml.safe_load((ROOT / "configs" / config).read_text())["data"]["init_args"]["batch_size"]
    )


def allocator(data_dir=None, **_) -> str:
    lines = [
        "## 9. Keeping freed memory (`commands/allocator.py`)",
        "",
        "Training steps of three configs at their own batch size and precision (mean ms per step, "
        "first step included), each run through `train.py` in its own process: glibc's default "
        "malloc (`NN_KEEP_FREED_MEMORY=0`: every buffer over 32 MiB is a fresh `mmap`, page-faulted "
        "in at each step) against `keep_freed_memory()` (what `train.py` does).",
        "",
        "| run | batch | steps | glibc default (ms / step) | freed memory kept (ms / step) | speed-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, (config, steps) in ALLOCATOR_RUNS.items():
        batch = _config_batch(config)
        default = _config_steps(config, {"NN_KEEP_FREED_MEMORY": "0"}, data_dir, steps, batch)[0]
        kept = _config_steps(config, {"NN_KEEP_FREED_MEMORY": "1"}, data_dir, steps, batch)[0]
        lines.append(
            f"| {label} | {batch} | {steps} | {default:.0f} | {kept:.0f} | {default / kept:.2f}x |"
        )
    return "\n".join(lines)


DATASETS = {
    "fashion": ("FashionMNIST",),
    "cifar": ("cifar-10-batches-py",),
    "precision": ("cifar-10-batches-py",),
    "allocator": ("cifar-10-batches-py", "FashionMNIST"),
    "numpy_cnns": ("FashionMNIST",),
}  # what a suite reads


# -- 10. grading the reference ------------------------------------------------------------------
def _reference_hw3(folder: Path) -> Path:
    """numpy_nn under the handout's name with the course-format suite beside it: hw3/ as a
    perfect student would hand in its code."""
    import shutil

    from deliverables.package import suite_members
    from plumbing.handout import handout_names

    hw3 = folder / "hw3"
    shutil.copytree(
        ROOT / "numpy_nn", hw3 / "neural_networks", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in (hw3 / "neural_networks").rglob("*.py"):
        path.write_text(handout_names(path.read_text()))
    for name, data in suite_members().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return hw3


def grading(repeats: int = 3, batch: int = 50, **_) -> str:
    """``python -m grading`` on the reference, end to end (each piece in its sandbox), against
    the course's own unittest suite on the same package, alternating, in one process's turn;
    then ``python -m grading batch`` on ``batch`` copies of it laid out as Gradescope exports."""
    import subprocess
    import sys

    from grading import sandbox

    with tempfile.TemporaryDirectory() as d:
        hw3 = _reference_hw3(Path(d))
        commands = {
            "grader": [sys.executable, "-m", "grading", str(hw3 / "neural_networks")],
            "course suite": [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        }
        times = {k: [] for k in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                cwd = ROOT if name == "grader" else hw3
                t = time.perf_counter()
                done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
                times[name].append(time.perf_counter() - t)
                if done.returncode != 0:
                    raise RuntimeError(f"{name} failed: {done.stderr[-500:]}")
        batch_s = _batch(Path(d), hw3, batch)
    grader_s, suite_s = (statistics.median(times[k]) for k in commands)
    kind = sandbox.available().describe()
    return "\n".join(
        [
            "## 10. Grading the reference",
            "",
            f"`python -m grading` on the reference package (layout A: every piece of its semester in "
            f"its own sandbox, here {kind}; fixtures and random inputs per sub-part, stand-ins "
            f"replaying the reference around each piece, and the handout's Iris run) against the "
            f"course-format unittest suite on the same package; wall time including Python's start, "
            f"median of {repeats}, alternating. Then `python -m grading batch` on {batch} copies of it "
            f"in Gradescope's export layout (one piece per core at a time). The goal: under 10 s per "
            f"submission on 2 cores.",
            "",
            "| job | wall time |",
            "|---|---:|",
            f"| `python -m grading hw3/neural_networks` | {grader_s:.1f} s |",
            f"| `python -m unittest discover -s tests` (the course suite) | {suite_s:.1f} s |",
            f"| ratio grader / suite | {grader_s / suite_s:.1f}x |",
            f"| `python -m grading batch` on {batch} submissions | {batch_s:.0f} s ({batch_s / batch:.1f} s each) |",
        ]
    )


def _batch(folder: Path, hw3: Path, n: int) -> float:
    """Seconds ``python -m grading batch`` takes on ``n`` copies of ``hw3``."""
    import shutil
    import subprocess
    import sys

    export = folder / "export"
    for i in range(n):
        shutil.copytree(hw3 / "neural_networks", export / f"submission_{i}" / "neural_networks")
    t = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grading",
            "batch",
            str(export),
            "--csv",
            str(folder / "grades.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"batch failed: {done.stderr[-500:]}")
    return time.perf_counter() - t


# -- 11. where a numpy-backed training step goes -----------------------------------------------


def _gemm_shapes(layer, x_shape, y_shape, input_gradient: bool = True) -> list:
    """The matrix products a layer's forward and backward make: (m, k, n) each (without dX's
    when ``input_gradient`` is False, as for the network's first layer)."""
    if type(layer).__name__ == "FullyConnected":
        (n, i), o = x_shape, y_shape[1]
        return [(n, i, o), (i, n, o)] + [
            (n, o, i)
        ] * input_gradient  # Z = X W; dW = X^T D; dX = D W^T
    if type(layer).__name__ == "Conv2D":
        kh, kw, c, f = layer.parameters["W"].shape
        rows = y_shape[0] * y_shape[1] * y_shape[2]
        # Z = C W; dW = C^T D; dX: kh*kw products D W_ij^T (col2im offset by offset)
        return [(rows, kh * kw * c, f), (kh * kw * c, rows, f)] + [(rows, f, c)] * (
            kh * kw * input_gradient
        )
    return []


def _gemm_ms(shapes, dtype, repeats: int = 5) -> float:
    """What the products alone take, called directly on arrays of their shapes."""
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
            a @ b
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
    step = _numpy_step_fn(sizes, np.float32, X, Y, 1)
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
        "called directly on arrays of their shapes (the BLAS floor), *rest* the difference: "
        "pooling, batch norm, activations, window copies, the col2im scatter, temporaries. "
        "Products timed apart, on fresh arrays, can take longer than inside the layer (a "
        "negative rest, for the small late convolutions): read *rest* to a few ms.",
        "",
    ]
    profiles, (mlp_step, mlp_gemm) = _child_rows("profile_rows")
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
def twin_rows(repeats: int = 5, block: int = 4) -> list:
    """[(network, batch, numpy-backed ms, torch twin ms)]: one training step (zero the gradients,
    forward, cross-entropy, backward, SGD with Nesterov momentum and weight decay) of each
    numpy-backed config's network through the bridge and of its torch-native twin, float32, on
    the same random batch, in alternating blocks."""
    import torch
    import torch.nn.functional as F

    from commands.cli import resolve_config
    from lightning_hw.networks import LayerStack

    rows = []
    for label, (config, batch) in CNN_CONFIGS.items():
        net_args = resolve_config(str(ROOT / "configs" / config))["model"]["network"]["init_args"]
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, *net_args["input_shape"], generator=g)
        y = torch.randint(0, 10, (batch,), generator=g)
        steps = {}
        for backend in ("numpy", "torch"):
            net = LayerStack(net_args["layers"], net_args["input_shape"], backend, seed=0)
            opt = torch.optim.SGD(
                net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4
            )

            def step(net=net, opt=opt, x=x, y=y):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()
                opt.step()

            steps[backend] = step
        t = _interleaved_blocks(steps, repeats, block)
        rows.append((label, batch, t["numpy"] * 1e3, t["torch"] * 1e3))
    return rows


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
        "`OMP_WAIT_POLICY=PASSIVE` (as `train.py` runs numpy backends); alternating blocks of "
        "4 steps, 5 rounds, median of all but each block's first.",
        "",
        "| network | batch | numpy-backed (ms) | torch twin (ms) | ratio | goal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, batch, ours, theirs in _child_rows("twin_rows"):
        goal = next(v for k, v in goals.items() if label.startswith(k))
        lines.append(
            f"| {label} | {batch} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x | <= {goal}x |"
        )
    return "\n".join(lines)


# -- 13. the numpy-backed CNN configs, trained ---------------------------------------------------
NUMPY_CNN_GOALS = {  # config: issue 32's goal (test accuracy, wall minutes on 2 cores)
    "fashion_cnn_numpy.yaml": (0.928, 3),
    "cifar_cnn_numpy.yaml": (0.90, 15),
}


def _numpy_cnn_row(config: str, data_dir) -> str:
    goal, minutes = NUMPY_CNN_GOALS[config]
    reference = reference_text(speed_reference()).split("before: ")[1]  # right before the run
    r = _train_config(config, data_dir)
    h, acc = r["history"], r["test"]["test/acc"]
    return (
        f"| `{config}` | {len(h['seconds'])} | {acc:.4f} | {sum(h['seconds']):.0f} s | "
        f"{r['wall']:.0f} s | >= {goal:.1%} in <= {minutes} min | {reference} | "
        f"{datetime.date.today()} |"
    )


def numpy_cnns(data_dir=None, cifar=False, previous=None, **_) -> str:
    """Section 13: ``python train.py`` on each numpy-backed CNN config, with the machine-speed
    reference taken right before each run; the CIFAR-10 one only with ``--cifar`` (else its last
    row stays, with its date)."""
    from plumbing.paths import resolve_data_dir

    kept = _rows_by_config((previous or {}).get("## 13.", ""))
    cifar = cifar and (resolve_data_dir(data_dir) / "cifar-10-batches-py").is_dir()
    lines = [
        "## 13. The numpy-backed CNN configs, trained",
        "",
        "Each row is one `python train.py --config configs/<config>` run in its own process "
        "(`python -m bench --only numpy_cnns`; `--cifar` also retrains the CIFAR-10 config, "
        "else its row stays with the date it was measured); training + validation from the "
        "run's metrics, wall time from the outside (start-up, data, test with its TTA).",
        "",
        "| config | epochs | test accuracy | training + validation | wall time | goal | "
        "machine-speed reference just before | measured |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for config in NUMPY_CNN_GOALS:
        if config.startswith("cifar") and not cifar:
            if config in kept:
                lines.append(kept[config])
            continue
        lines.append(_numpy_cnn_row(config, data_dir))
    return "\n".join(lines)


SUITES = {
    "numpy": numpy_vs_torch,
    "bridge": bridge_overhead,
    "fashion": fashion,
    "cifar": cifar,
    "iris": iris,
    "conv": conv,
    "bridge_cnn": bridge_cnn,
    "precision": precision,
    "allocator": allocator,
    "grading": grading,
    "profile": profile,
    "twins": twins,
    "numpy_cnns": numpy_cnns,
}

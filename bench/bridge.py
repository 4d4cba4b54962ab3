"""Sections 2 and 7: numpy_nn's layers inside Lightning, through the bridge, against torch and numpy_nn's own step."""

import functools
import os

import numpy as np

from bench.machine import ROOT, child_rows, interleaved_blocks


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
        t = interleaved_blocks(
            {b: _lightning_fit_fn(b, nf, h, nc, loader, steps) for b in ("numpy", "torch")}, 5, 2
        )
        rows.append((label, batch, steps, t["numpy"] / steps * 1e3, t["torch"] / steps * 1e3))
    return rows


def bridge_overhead(**_) -> str:
    """Each setting in a child process: OMP_WAIT_POLICY must be fixed before torch is imported."""
    import json
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
    code = "import json; from bench.bridge import bridge_rows; print(json.dumps(bridge_rows()))"
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

        t = interleaved_blocks({"numpy_nn": numpy_step, "bridge": bridge_step}, repeats, 3)
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
    for label, batch, ours, bridged in child_rows("bench.bridge", "bridge_cnn_rows"):
        lines.append(f"| {label} | {batch} | {ours:.1f} | {bridged:.1f} | {bridged / ours:.2f}x |")
    return "\n".join(lines)

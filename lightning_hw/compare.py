"""The Iris network trained three ways from one seed, side by side.

    python train.py compare --config configs/iris_compare.yaml [--epochs N]

1. ``numpy_nn``: numpy_nn's own training loop (softmax layer + CrossEntropy, its SGD).
2. ``lightning numpy``: the same layers inside Lightning through the autograd bridge.
3. ``lightning torch``: the torch-native twin (nn.Linear), same initial weights.

The hyperparameters come from the Lightning configs named in the compare config (which must be
identical apart from the backend and the experiment name); numpy_nn gets the same values. All
three are tested on their final weights. Writes ``comparison.md``, ``comparison.json`` and
``comparison.png`` (every run's train and validation loss) into ``output_dir``.
"""

import argparse
import copy
import json
import logging
import os
from dataclasses import replace

import yaml

from numpy_nn.experiment import Options
from numpy_nn.experiment import run as run_numpy_nn
from numpy_nn.logs import atomic_write


def _load_yaml(path: str) -> dict:
    with open(path) as f:
        return yaml.safe_load(f) or {}


def _without_backend(config: dict) -> dict:
    c = copy.deepcopy(config)
    c["model"]["network"]["init_args"].pop("backend", None)
    c["trainer"]["logger"]["init_args"].pop("name", None)
    return c


def numpy_nn_options(config: dict, epochs=None) -> Options:
    """numpy_nn Options holding the same hyperparameters as a Lightning Iris config."""
    model, net = config["model"], config["model"]["network"]["init_args"]
    return replace(
        Options(),
        lr=model["lr"],
        momentum=model.get("momentum", 0.0),
        hidden=net["hidden"],
        activation=net["activation"],
        weight_init=net.get("weight_init", "xavier_uniform"),
        batch_size=config["data"]["init_args"]["batch_size"],
        epochs=epochs or config["trainer"]["max_epochs"],
        seed=config.get("seed_everything", 0),
        optimizer=model.get("optimizer", "sgd"),
    )


def compare(config_path: str, epochs=None) -> dict:
    spec = _load_yaml(config_path)
    runs = spec["runs"]
    configs = {name: _load_yaml(path) for name, path in runs.items()}
    first = next(iter(configs.values()))
    for name, c in configs.items():
        if _without_backend(c) != _without_backend(first):
            raise ValueError(
                f"{runs[name]} differs from {next(iter(runs.values()))} in more than the backend and "
                "experiment name: make their hyperparameters equal for a fair comparison"
            )
    out_dir = spec.get("output_dir", "lightning_logs/iris_compare")
    os.makedirs(out_dir, exist_ok=True)
    rows, curves = [], {}

    if spec.get("numpy_nn", True):
        options = numpy_nn_options(first, epochs)
        print(f"[1/{len(runs) + 1}] numpy_nn's own loop ...", flush=True)
        r = run_numpy_nn(options, save_dir=os.path.join(out_dir, "numpy_nn"))
        rows.append(
            {
                "implementation": "numpy_nn (own loop)",
                "train_loss": r["curves"]["loss"]["train"][-1],
                "val_loss": r["curves"]["loss"]["validate"][-1],
                "test_loss": r["test_loss"],
                "test_acc": 1.0 - r["test_error"],
                "seconds_per_epoch": r["seconds_per_epoch"],
                "run_dir": r["run_dir"],
            }
        )
        curves["numpy_nn"] = (r["curves"]["loss"]["train"], r["curves"]["loss"]["validate"])

    from lightning_hw.cli import train  # torch is imported only when needed

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # keep the table readable

    for i, (name, path) in enumerate(runs.items(), start=2 if spec.get("numpy_nn", True) else 1):
        print(f"[{i}/{len(runs) + 1}] Lightning, backend {name} ...", flush=True)
        args = [
            "--config",
            path,
            "--trainer.enable_progress_bar",
            "false",
            "--checkpoint.monitor",
            "null",
        ]  # test the final weights, as numpy_nn does
        if epochs:
            args += ["--trainer.max_epochs", str(epochs)]
        r = train(args)
        h = r["history"]
        rows.append(
            {
                "implementation": f"Lightning, {name} backend",
                "train_loss": h["train/loss"][-1],
                "val_loss": h["val/loss"][-1],
                "test_loss": r["test"]["test/loss"],
                "test_acc": r["test"]["test/acc"],
                "seconds_per_epoch": sum(h["seconds"]) / len(h["seconds"]),
                "run_dir": r["log_dir"],
            }
        )
        curves[f"lightning {name}"] = (h["train/loss"], h["val/loss"])

    table = _table(rows)
    atomic_write(os.path.join(out_dir, "comparison.md"), lambda tmp: _write_text(tmp, table))
    atomic_write(
        os.path.join(out_dir, "comparison.json"),
        lambda tmp: _write_text(tmp, json.dumps(rows, indent=2)),
    )
    _plot(curves, os.path.join(out_dir, "comparison.png"))
    return {"rows": rows, "table": table, "output_dir": out_dir}


def _write_text(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


def _table(rows) -> str:
    lines = [
        "| implementation | final train loss | final val loss | test loss | test accuracy | s / epoch |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['implementation']} | {r['train_loss']:.4f} | {r['val_loss']:.4f} | "
            f"{r['test_loss']:.4f} | {r['test_acc']:.4f} | {r['seconds_per_epoch'] * 1000:.1f} ms |"
        )
    return "\n".join(lines)


def _plot(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, (train, val)), color in zip(curves.items(), plt.cm.tab10.colors):
        ax.plot(range(1, len(train) + 1), train, color=color, label=f"{name} train")
        ax.plot(range(1, len(val) + 1), val, color=color, linestyle="--", label=f"{name} val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.set_title("Iris: numpy_nn vs Lightning (numpy bridge) vs Lightning (torch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="train.py compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", required=True, help="e.g. configs/iris_compare.yaml")
    p.add_argument("--epochs", type=int, default=None, help="override max_epochs of every run")
    args = p.parse_args(argv)
    result = compare(args.config, args.epochs)
    print("\n" + result["table"])
    print(f"\nsaved {result['output_dir']}/comparison.md and comparison.png")
    return 0

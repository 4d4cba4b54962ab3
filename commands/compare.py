"""Twin networks trained from one seed, side by side.

    python train.py compare --config configs/iris_compare.yaml [--epochs N]
    python train.py compare --config configs/fashion_cnn_compare.yaml

A compare config names Lightning experiments under ``runs:`` (e.g. ``numpy:`` the numpy_nn
layers through the autograd bridge, ``torch:`` the torch-native twin from the same initial
weights); they must resolve to identical settings apart from the backend and the run's name.
``numpy_nn: true`` (Iris only) adds numpy_nn's own training loop (softmax layer + CrossEntropy,
its SGD) with the same values. Every run is tested on its final weights. Writes
``comparison.md`` (losses, test accuracy, seconds per epoch and milliseconds per training step
of each), ``comparison.json`` and ``comparison.png`` (every run's train and validation loss)
into ``output_dir``.
"""

import copy
import logging
import os
from dataclasses import replace
from pathlib import Path

from commands.cli import resolve_config, train
from commands.configs import read
from commands.entry import UserError, argument_parser, run_main
from lightning_hw.callbacks import evaluation_label
from lightning_hw.io import plot_curves, write_json, write_text
from numpy_nn.experiment import Options
from numpy_nn.experiment import run as run_numpy_nn

OPTIMIZERS = {"torch.optim.SGD": "sgd", "torch.optim.Adam": "adam"}  # numpy_nn's names


def _without_backend(config: dict) -> dict:
    c = copy.deepcopy(config)
    c.pop("config", None)  # the files it came from
    c["model"]["network"]["init_args"].pop("backend", None)
    c["trainer"]["logger"]["init_args"].pop("name", None)
    return c


def numpy_nn_options(config: dict, epochs=None) -> Options:
    """numpy_nn Options holding the same hyperparameters as a resolved Lightning Iris config."""
    model, net = config["model"], config["model"]["network"]["init_args"]
    optimizer = model["optimizer"]
    if optimizer["class_path"] not in OPTIMIZERS:
        raise ValueError(
            f"numpy_nn has no {optimizer['class_path']}: compare with one of {', '.join(OPTIMIZERS)}"
        )
    return replace(
        Options(),
        lr=optimizer["init_args"]["lr"],
        momentum=optimizer["init_args"].get("momentum", 0.0),
        hidden=net["hidden"],
        activation=net["activation"],
        weight_init=net.get("weight_init", "xavier_uniform"),
        batch_size=config["data"]["init_args"]["batch_size"],
        epochs=epochs or config["trainer"]["max_epochs"],
        seed=config.get("seed_everything", 0),
        optimizer=OPTIMIZERS[optimizer["class_path"]],
    )


def compare(config_path: str, epochs=None) -> dict:
    spec = read(config_path)
    runs = spec.get("runs")
    if not isinstance(runs, dict) or not runs:
        raise UserError(
            f"{config_path} names no runs: add runs: {{numpy: configs/iris_numpy.yaml, "
            "torch: configs/iris_torch.yaml}"
        )
    configs = {name: resolve_config(path) for name, path in runs.items()}
    first = next(iter(configs.values()))
    for name, c in configs.items():
        if _without_backend(c) != _without_backend(first):
            raise UserError(
                f"{runs[name]} differs from {next(iter(runs.values()))} in more than the backend and "
                "experiment name: make their hyperparameters equal for a fair comparison"
            )
    out_dir = spec.get("output_dir") or os.path.join("lightning_logs", Path(config_path).stem)
    os.makedirs(out_dir, exist_ok=True)
    rows, curves, labels = [], {}, set()
    total = len(runs) + bool(spec.get("numpy_nn", True))

    if spec.get("numpy_nn", True):
        options = numpy_nn_options(first, epochs)
        print(f"[1/{total}] numpy_nn's own loop ...", flush=True)
        r = run_numpy_nn(options, save_dir=os.path.join(out_dir, "numpy_nn"))
        rows.append(
            {
                "implementation": "numpy_nn (own loop)",
                "train_loss": r["curves"]["loss"]["train"][-1],
                "val_loss": r["curves"]["loss"]["validate"][-1],
                "test_loss": r["test_loss"],
                "test_acc": 1.0 - r["test_error"],
                "seconds_per_epoch": r["seconds_per_epoch"],
                "ms_per_step": r["ms_per_step"],
                "run_dir": r["run_dir"],
            }
        )
        curves["numpy_nn"] = (r["curves"]["loss"]["train"], r["curves"]["loss"]["validate"])

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # keep the table readable

    for i, (name, path) in enumerate(runs.items(), start=total - len(runs) + 1):
        print(f"[{i}/{total}] Lightning, backend {name} ...", flush=True)
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
                "ms_per_step": sum(h["step_ms"]) / len(h["step_ms"]),
                "run_dir": r["log_dir"],
            }
        )
        curves[f"lightning {name}"] = (h["train/loss"], h["val/loss"])
        labels.add(evaluation_label(r["trainer"].datamodule))

    # Runs that validate on the official test split have no validation loss of their own: the
    # table leaves that column out (it would repeat the test loss) and the plot says "test".
    held_out = labels != {"test"}
    table = _table(rows, held_out)
    write_text(os.path.join(out_dir, "comparison.md"), table + "\n")
    write_json(os.path.join(out_dir, "comparison.json"), rows)
    _plot(curves, os.path.join(out_dir, "comparison.png"), Path(config_path).stem, held_out)
    return {"rows": rows, "table": table, "output_dir": out_dir}


def _table(rows, held_out: bool = True) -> str:
    """The side-by-side table; ``held_out``: the runs validate on held-out data (a "final val
    loss" column), not on the test split."""
    val = " final val loss |" if held_out else ""
    lines = [
        f"| implementation | final train loss |{val} test loss | test accuracy | s / epoch "
        "| ms / step |",
        "|---|---:|" + ("---:|" if held_out else "") + "---:|---:|---:|---:|",
    ]
    for r in rows:
        val = f" {r['val_loss']:.4f} |" if held_out else ""
        lines.append(
            f"| {r['implementation']} | {r['train_loss']:.4f} |{val} "
            f"{r['test_loss']:.4f} | {r['test_acc']:.4f} | {r['seconds_per_epoch']:.3f} | "
            f"{r['ms_per_step']:.2f} |"
        )
    return "\n".join(lines)


def _plot(curves: dict, path: str, name: str, held_out: bool = True) -> None:
    """Every run's train (solid) and validation or per-epoch test (dashed) loss, one colour per
    run."""
    lines, styles = {}, {}
    other = "val" if held_out else "test"
    for i, (name, (train_loss, val_loss)) in enumerate(curves.items()):
        for split, values, dash in (("train", train_loss, "-"), (other, val_loss, "--")):
            lines[f"{name} {split}"] = values
            styles[f"{name} {split}"] = {"color": f"C{i}", "linestyle": dash}
    plot_curves(
        path,
        lines,
        "cross-entropy loss",
        f"{name}: {' vs '.join(curves)}",
        styles,
        log_scale=True,
        figsize=(7, 4.5),
    )


def main(argv=None) -> int:
    p = argument_parser("train.py compare", __doc__)
    p.add_argument("--config", required=True, help="e.g. configs/iris_compare.yaml")
    p.add_argument("--epochs", type=int, default=None, help="override max_epochs of every run")
    args = p.parse_args(argv)

    def body() -> int:
        result = compare(args.config, args.epochs)
        print("\n" + result["table"])
        print(f"\nsaved {result['output_dir']}/comparison.md and comparison.png")
        return 0

    return run_main(body)

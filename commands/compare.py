"""Twin networks trained from one seed, side by side.

    python train.py compare --config configs/iris_compare.yaml [--epochs N] [--output_dir DIR]
    python train.py compare --config configs/fashion_cnn_compare.yaml

A compare config names Lightning experiments under ``runs:`` (e.g. ``numpy:`` the numpy_nn
layers through the autograd bridge, ``torch:`` the torch-native twin from the same initial
weights), each a path relative to the compare config's folder (or to the working directory);
they must resolve to identical settings apart from the backend and the run's name.
``numpy_nn: true`` (Iris only) adds numpy_nn's own training loop (softmax layer + CrossEntropy,
its SGD) with the same values. Every run is tested on its final weights. Writes
``comparison.md`` (losses, test accuracy, seconds per epoch and milliseconds per training step
of each), ``comparison.json`` and ``comparison.png`` (every run's train and validation loss)
into the config's ``output_dir``; ``--output_dir DIR`` puts them and every run under ``DIR``
instead.
"""

import copy
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from commands.cli import resolve_config, train
from commands.configs import BACKEND_KEY, Experiment, read
from commands.entry import UserError, argument_parser, run_main
from lightning_hw.callbacks import evaluation_label
from lightning_hw.io import plot_curves
from lightning_hw.runs import val_epochs
from numpy_nn.experiment import Options
from plumbing.files import output_folder, write_json, write_text
from train_ffnn import train as run_numpy_nn  # the handout's script: the one Iris run

OPTIMIZERS = {"torch.optim.SGD": "sgd", "torch.optim.Adam": "adam"}  # numpy_nn's names


def _without_backend(config: dict) -> dict:
    c = copy.deepcopy(config)
    c.pop("config", None)  # the files it came from
    network = c
    for key in BACKEND_KEY[:-1]:
        network = network[key]
    network.pop(BACKEND_KEY[-1], None)
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


def run_config(config_path: str, path: str) -> str:
    """A run's experiment file: relative to the compare config's folder, else to the working
    directory (as older compare configs wrote it), else a UserError naming both."""
    candidates = [Path(config_path).parent / path, Path(path)]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        tried = " or ".join(str(c) for c in dict.fromkeys(candidates))
        raise UserError(f"{config_path}: run file {path} not found (looked for {tried})")
    return str(found)


def _experiments(runs: dict, epochs, save_dir=None) -> tuple[dict[str, Experiment], dict]:
    """Each run's experiment, read once, and the first one's resolved config. They train
    without a monitored checkpoint (the final weights are tested, as numpy_nn does), and must
    have the same settings but the backend."""
    quiet = ["--trainer.enable_progress_bar", "false", "--checkpoint.monitor", "null"]
    quiet += ["--trainer.max_epochs", str(epochs)] if epochs else []
    quiet += ["--trainer.logger.init_args.save_dir", save_dir] if save_dir else []
    experiments = {n: Experiment.from_argv(["--config", p, *quiet]) for n, p in runs.items()}
    resolved = {name: resolve_config(e) for name, e in experiments.items()}
    first = next(iter(resolved))
    for name, config in resolved.items():
        if _without_backend(config) != _without_backend(resolved[first]):
            raise UserError(
                f"{runs[name]} differs from {runs[first]} in more than the backend and "
                "experiment name: make their hyperparameters equal for a fair comparison"
            )
    return experiments, resolved[first]


def _numpy_nn_row(config: dict, epochs, out_dir: str) -> tuple[dict, tuple]:
    """numpy_nn's own loop on the same hyperparameters: (its table row, its loss curves)."""
    r = run_numpy_nn(numpy_nn_options(config, epochs), save_dir=os.path.join(out_dir, "numpy_nn"))
    loss = r["curves"]["loss"]
    row = {
        "implementation": "numpy_nn (own loop)",
        "train_loss": loss["train"][-1],
        "val_loss": loss["validate"][-1],
        "test_loss": r["test_loss"],
        "test_acc": 1.0 - r["test_error"],
        "seconds_per_epoch": r["seconds_per_epoch"],
        "ms_per_step": r["ms_per_step"],
        "run_dir": r["run_dir"],
    }
    return row, (loss["train"], loss["validate"])


def _lightning_row(name: str, experiment: Experiment) -> tuple[dict, tuple, str]:
    """One Lightning run: (its table row, its loss curves, what its validation curve is)."""
    r = train(experiment)
    h = r["history"]
    row = {
        "implementation": f"Lightning, {name} backend",
        "train_loss": h["train/loss"][-1],
        "val_loss": h["val/loss"][-1],
        "test_loss": r["test"]["test/loss"],
        "test_acc": r["test"]["test/acc"],
        "seconds_per_epoch": sum(h["seconds"]) / len(h["seconds"]),
        "ms_per_step": sum(h["step_ms"]) / len(h["step_ms"]),
        "run_dir": r["log_dir"],
    }
    val = dict(zip(val_epochs(h), h["val/loss"]))  # {epoch: loss}: check_val_every_n_epoch
    return row, (h["train/loss"], val), evaluation_label(r["trainer"].datamodule)


def compare(config_path: str, epochs=None, output_dir: str | None = None) -> dict:
    """Train every run of a compare config; write and return the table (see the docstring)."""
    spec = read(config_path)
    runs = spec.get("runs")
    if not isinstance(runs, dict) or not runs:
        raise UserError(
            f"{config_path} names no runs: add runs: {{numpy: configs/iris_numpy.yaml, "
            "torch: configs/iris_torch.yaml}"
        )
    blank = [name for name, path in runs.items() if not isinstance(path, str) or not path.strip()]
    if blank:
        raise UserError(f"{config_path}: runs.{blank[0]} is empty: give it an experiment file")
    if epochs is not None and epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {epochs}")
    runs = {name: run_config(config_path, path) for name, path in runs.items()}
    experiments, first = _experiments(runs, epochs, output_dir)
    out_dir = (
        output_dir
        or spec.get("output_dir")
        or os.path.join("lightning_logs", Path(config_path).stem)
    )
    os.makedirs(out_dir, exist_ok=True)
    rows, curves, labels = [], {}, set()
    with_numpy_nn = bool(spec.get("numpy_nn", True))
    total = len(runs) + with_numpy_nn
    if with_numpy_nn:
        print(f"[1/{total}] numpy_nn's own loop ...", flush=True)
        row, curves["numpy_nn"] = _numpy_nn_row(first, epochs, out_dir)
        rows.append(row)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # keep the table readable
    for i, (name, experiment) in enumerate(experiments.items(), start=1 + with_numpy_nn):
        print(f"[{i}/{total}] Lightning, backend {name} ...", flush=True)
        row, curves[f"lightning {name}"], label = _lightning_row(name, experiment)
        rows.append(row)
        labels.add(label)
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
    run. Runs from the same seed often coincide: each run is drawn narrower than the one before,
    with its own markers, so every one shows, and the title says when they coincide."""
    lines, styles = {}, {}
    other = "val" if held_out else "test"
    markers = "osD^v"
    for i, (run, (train_loss, val_loss)) in enumerate(curves.items()):
        width = 1.0 + 2.0 * (len(curves) - 1 - i)
        for split, values, dash in (("train", train_loss, "-"), (other, val_loss, "--")):
            lines[f"{run} {split}"] = values
            styles[f"{run} {split}"] = {
                "color": f"C{i}",
                "linestyle": dash,
                "linewidth": width,
                "marker": markers[i % len(markers)],
                "markevery": _every(len(values), i, len(curves)),
            }
    title = f"{name}: {' vs '.join(curves)}"
    if _coincide(list(curves.values())):
        title += "\n(they coincide to 4 digits: each run narrower than the last)"
    plot_curves(path, lines, "cross-entropy loss", title, styles, log_scale=True, figsize=(7, 4.5))


def _every(n: int, i: int, runs: int) -> tuple[int, int]:
    """Markers every ``n // 8`` epochs, each run's shifted so that coinciding runs' all show."""
    step = max(1, n // 8)
    return (i * step // runs, step)


def _coincide(curves: list) -> bool:
    """Do all runs' curves agree to 4 significant digits at every epoch? (A curve is a list from
    epoch 1 or a dict {epoch: value}.)"""

    def points(curve) -> list:
        return list(curve.items()) if isinstance(curve, dict) else list(enumerate(curve, 1))

    first = curves[0]
    return all(
        len(points(a)) == len(points(b)) and np.allclose(points(a), points(b), rtol=1e-4, atol=0)
        for run in curves[1:]
        for a, b in zip(first, run)
    )


def main(argv=None) -> int:
    p = argument_parser("train.py compare", __doc__)
    p.add_argument("--config", required=True, help="e.g. configs/iris_compare.yaml")
    p.add_argument("--epochs", type=int, default=None, help="override max_epochs of every run")
    p.add_argument(
        "--output_dir",
        default=None,
        help="folder for the comparison and every run (default: the config's output_dir)",
    )
    args = p.parse_args(argv)
    return run(args.config, args.epochs, args.output_dir)


def run(config: str, epochs: int | None = None, output_dir: str | None = None) -> int:
    """``compare``, its table printed; a mistake is one line and exit status 2."""

    def body() -> int:
        if output_dir:
            output_folder(output_dir)  # refused before any training
        result = compare(config, epochs, output_dir)
        print("\n" + result["table"])
        print(f"\nsaved {result['output_dir']}/comparison.md and comparison.png")
        return 0

    return run_main(body)

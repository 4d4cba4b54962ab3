"""The Iris run's options, its summary and the learning-rate x hidden-width sweep. The run itself
is ``train_ffnn.py``'s ``train``, the handout's script (its command line: ``commands/ffnn.py``).

``DEFAULTS`` is the one place that holds the default hyperparameters of the numpy network.
"""

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from numpy_nn.activations import ACTIVATION_NAMES
from numpy_nn.logs import atomic_write, write_json


@dataclass(frozen=True)
class Options:
    lr: float = 0.05  # SGD step; with momentum 0.9 the effective step is ~10x this
    hidden: int = 25  # one hidden layer; Iris is nearly linearly separable, 25 units is plenty
    momentum: float = 0.9  # smooths the noisy gradients of small batches
    epochs: int = 100  # 105 training rows / batch 16 = 7 steps per epoch, 700 steps in all
    batch_size: int = 16
    seed: int = 0  # fixes the weights and the batch order (the split itself is always the same)
    activation: str = "relu"  # hidden activation; the output layer is softmax + cross-entropy
    weight_init: str = "xavier_uniform"
    optimizer: str = "sgd"

    @property
    def run_name(self) -> str:
        return (
            f"iris_{self.activation}_h{self.hidden}_lr{self.lr:g}_m{self.momentum:g}"
            f"_bs{self.batch_size}_e{self.epochs}_s{self.seed}"
        )

    def validate(self) -> "Options":
        """Raise ValueError naming the first bad option."""
        if not 0 < self.lr < math.inf:
            raise ValueError(f"--lr must be a positive finite number, got {self.lr}")
        if self.hidden < 1:
            raise ValueError(f"--hidden must be at least 1, got {self.hidden}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"--momentum must be in [0, 1), got {self.momentum}")
        if self.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer, got {self.seed}")
        if self.activation not in ACTIVATION_NAMES:
            raise ValueError(
                f"--activation {self.activation!r} is unknown: choose one of {', '.join(ACTIVATION_NAMES)}"
            )
        return self


DEFAULTS = Options()

SWEEP_LRS = (0.001, 0.01, 0.1)
SWEEP_HIDDEN = (5, 25, 100)


def summarize(
    model, dataset, log: dict, seconds: float, options: Options, test: dict | None = None
) -> dict:
    """A trained run's results: the final train/val/test loss and error (fractions; ``test``
    is ``model.test(dataset)`` when already computed), the per-epoch curves, seconds per epoch,
    milliseconds per training step (the epoch's time over its batches, so its evaluation passes
    included) and the options."""
    train_out, train_loss = model.predict(dataset.train.data, dataset.train.labels)
    val_out, val_loss = model.predict(dataset.validate.data, dataset.validate.labels)
    test = model.test(dataset) if test is None else test
    return {
        "run": options.run_name,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "test_loss": test["loss"],
        "train_error": model.error(dataset.train.labels, train_out),
        "val_error": model.error(dataset.validate.labels, val_out),
        "test_error": test["error"],
        "best_val_error": min(log["error"]["validate"]),
        "seconds_per_epoch": seconds / options.epochs,
        "ms_per_step": 1000 * seconds / (options.epochs * dataset.train.samples_per_epoch),
        "options": asdict(options),
        "curves": log,
    }


def sweep(
    train: Callable[..., dict],
    base: Options = DEFAULTS,
    lrs: Sequence[float] = SWEEP_LRS,
    hidden: Sequence[int] = SWEEP_HIDDEN,
    save_dir: str = "experiments",
    progress: bool = False,
) -> dict:
    """Train every (lr, hidden) pair from ``base`` with ``train(options, save_dir=...)`` (the
    handout's script, ``train_ffnn.train``); write ``sweep/results.md`` and ``sweep/loss.png``.

    The best setting is the lowest best-epoch validation error, ties broken by final validation
    loss. Returns {"runs": [...], "best": results of the best run, "table": markdown}.
    """
    out_dir = os.path.join(save_dir, "sweep")
    os.makedirs(out_dir, exist_ok=True)
    pairs = [(lr, h) for lr in lrs for h in hidden]
    if progress:
        from tqdm.auto import tqdm

        pairs = tqdm(pairs, desc="sweep", unit="run")
    runs: list[dict] = []
    for lr, h in pairs:
        runs.append(train(replace(base, lr=lr, hidden=h), save_dir=out_dir))
    best = min(runs, key=lambda r: (r["best_val_error"], r["val_loss"]))
    lines = [
        "| lr | hidden | best val error | final val error | final val loss | test error | test loss |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        o = r["options"]
        mark = " **(best)**" if r is best else ""
        lines.append(
            f"| {o['lr']:g} | {o['hidden']}{mark} | {r['best_val_error']:.3f} | {r['val_error']:.3f} "
            f"| {r['val_loss']:.4f} "
            f"| {r['test_error']:.3f} | {r['test_loss']:.4f} |"
        )
    bo = best["options"]
    table = "\n".join(lines)
    text = (
        f"# Iris sweep: lr x hidden\n\nFixed: {_describe(base, skip=('lr', 'hidden'))}.\n\n{table}\n\n"
        f"Best by validation error: lr={bo['lr']:g}, hidden={bo['hidden']} "
        f"(best val error {best['best_val_error']:.3f}, test error {best['test_error']:.3f}).\n"
    )

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    atomic_write(os.path.join(out_dir, "results.md"), write)
    write_json(
        os.path.join(out_dir, "results.json"),
        {
            "runs": [{k: v for k, v in r.items() if k not in ("curves", "run_dir")} for r in runs],
            "best": best["run"],
        },
    )
    curves = {}
    for r in runs:
        o = r["options"]
        curves[f"train lr={o['lr']:g} h={o['hidden']}"] = r["curves"]["loss"]["train"]
        curves[f"val lr={o['lr']:g} h={o['hidden']}"] = r["curves"]["loss"]["validate"]
    _plot_sweep(curves, os.path.join(out_dir, "loss.png"))
    return {"runs": runs, "best": best, "table": table, "dir": out_dir}


def _describe(options: Options, skip=()) -> str:
    return ", ".join(f"{k}={v}" for k, v in asdict(options).items() if k not in skip)


def _plot_sweep(curves: dict, path: str) -> None:
    """Train (solid) and validation (dashed) loss of every run, one colour per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    names = [k[len("train ") :] for k in curves if k.startswith("train ")]
    colors = plt.cm.tab10.colors
    for i, name in enumerate(names):
        c = colors[i % len(colors)]
        ax.plot(curves[f"train {name}"], color=c, label=name)
        ax.plot(curves[f"val {name}"], color=c, linestyle="--")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.set_title("Iris sweep: train (solid) and validation (dashed) loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)

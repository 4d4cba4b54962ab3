"""Sections 3, 4, 5 and 13: whole runs, timed to their accuracy (Fashion-MNIST, CIFAR-10, numpy_nn on Iris, the numpy-backed CNN configs)."""

import datetime
import re
import tempfile
import time
from pathlib import Path

from bench.machine import ROOT, reference_text, speed_reference
from lightning_hw import runs


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
    """Training + validation seconds until the first validation at ``target`` or above."""
    accuracy = dict(zip(runs.val_epochs(history), history["val/acc"]))
    elapsed = 0.0
    for epoch, sec in enumerate(history["seconds"], 1):
        elapsed += sec
        if accuracy.get(epoch, 0.0) >= target:
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
    from numpy_nn.experiment import DEFAULTS, sweep
    from train_ffnn import train as run

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        r = run(DEFAULTS, save_dir=d)
        one = time.perf_counter() - t
        t = time.perf_counter()
        s = sweep(run, DEFAULTS, save_dir=d)
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


# -- 13. the numpy-backed CNN configs, trained ---------------------------------------------------
NUMPY_CNN_GOALS = {  # config: (goal test accuracy, wall minutes on 2 cores, seeds trained)
    "fashion_cnn_numpy.yaml": (0.928, 3, (0,)),
    "cifar_cnn_numpy.yaml": (0.90, 15, (0, 1)),  # issue 42: the config's seed and a second one
}


def _numpy_cnn_row(config: str, seed: int, data_dir) -> str:
    goal, minutes, _ = NUMPY_CNN_GOALS[config]
    reference = reference_text(speed_reference()).split("before: ")[1]  # right before the run
    r = _train_config(config, data_dir, ["--seed_everything", str(seed)])
    h, acc = r["history"], r["test"]["test/acc"]
    return (
        f"| `{config}` | {seed} | {len(h['seconds'])} | {acc:.4f} | {sum(h['seconds']):.0f} s | "
        f"{r['wall']:.0f} s | >= {goal:.1%} in <= {minutes} min | {reference} | "
        f"{datetime.date.today()} |"
    )


def _rows_by_run(section: str) -> dict:
    """{(config, seed): row} of an earlier section 13 (rows from before the seed column: seed 0,
    the configs' own)."""
    rows = {}
    for line in section.splitlines():
        name = re.match(r"\| `([\w.]+)` \|", line)
        if not name:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8:  # no seed column yet
            cells.insert(1, "0")
            line = "| " + " | ".join(cells) + " |"
        rows[(name.group(1), int(cells[1]))] = line
    return rows


def numpy_cnns(data_dir=None, cifar=False, previous=None, **_) -> str:
    """Section 13: ``python train.py`` on each numpy-backed CNN config and seed, with the
    machine-speed reference taken right before each run; the CIFAR-10 one only with ``--cifar``
    (else its last rows stay, with their dates)."""
    from plumbing.paths import resolve_data_dir

    kept = _rows_by_run((previous or {}).get("## 13.", ""))
    cifar = cifar and (resolve_data_dir(data_dir) / "cifar-10-batches-py").is_dir()
    lines = [
        "## 13. The numpy-backed CNN configs, trained",
        "",
        "Each row is one `python train.py --config configs/<config> --seed_everything <seed>` run "
        "in its own process (`python -m bench --only numpy_cnns`; `--cifar` also retrains the "
        "CIFAR-10 config, else its rows stay with the date they were measured); training + "
        "validation from the run's metrics, wall time from the outside (start-up, data, test with "
        "its TTA).",
        "",
        "| config | seed | epochs | test accuracy | training + validation | wall time | goal | "
        "machine-speed reference just before | measured |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for config, (_, _, seeds) in NUMPY_CNN_GOALS.items():
        for seed in seeds:
            if config.startswith("cifar") and not cifar:
                if (config, seed) in kept:
                    lines.append(kept[(config, seed)])
                continue
            lines.append(_numpy_cnn_row(config, seed, data_dir))
    return "\n".join(lines)

"""Sections 8 and 9: the run-time settings, `precision: auto` where bf16 is emulated, and the allocator."""

import os
import tempfile
from pathlib import Path

from bench.machine import ROOT
from commands.configs import run_config
from lightning_hw import runs


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
        used = run_config(run)["trainer"]["precision"]
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
    from commands.configs import Experiment

    settings = Experiment.from_argv(["--config", str(ROOT / "configs" / config)]).config
    return int(settings["data"]["init_args"]["batch_size"])


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

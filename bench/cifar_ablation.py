"""Ablation of the CIFAR-10 CNN recipe: change one ingredient at a time, measure test accuracy.

    python -m bench.cifar_ablation --data_dir DIR [--epochs 8] [--seeds 3] [--out docs/cifar_ablation.md]

Every variant starts from configs/cifar_cnn.yaml (resolved here, fragments included, so the
baseline is the real default) and changes one thing: most leave an ingredient out, one adds
airbench's Lookahead/EMA, which the default leaves out. Runs go through the same Classifier,
DataModule and callbacks as train.py, built directly (no LightningCLI), on whatever accelerator
Lightning finds. ``--data_dir`` may hold a subset of CIFAR-10 in the official pickle layout (its
MD5 sums then differ; --subset-ok skips torchvision's check): the table says how many images were
used.
"""

import argparse
import copy
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "baseline (configs/cifar_cnn.yaml)": {},
    "no whitening layer init (random, frozen)": {"whiten_images": 0},
    "with airbench's Lookahead/EMA": {"lookahead": True},
    "no label smoothing": {"label_smoothing": 0.0},
    "no 64x BatchNorm-bias learning rate": {"norm_lr_scale": 1.0},
    "no test-time augmentation": {"tta_level": 0},
    "no translate augmentation": {"translate": 0},
    "random flips (not alternating)": {"flip": True},
    "no flip augmentation": {"flip": False},
}


def variant_config(config: dict, change: dict) -> dict:
    """A copy of the resolved config with one ingredient changed (``VARIANTS``' keys)."""
    config = copy.deepcopy(config)
    model, data = config["model"], config["data"]["init_args"]
    for key in ("label_smoothing", "norm_lr_scale"):
        if key in change:
            model[key] = change[key]
    if "tta_level" in change:
        model["network"]["init_args"]["tta_level"] = change["tta_level"]
    for key in ("flip", "translate"):
        if key in change:
            data[key] = change[key]
    return config


def run_variant(
    config: dict, change: dict, data_dir: str, epochs: int, seed: int, precision: str
) -> dict:
    import pytorch_lightning as pl

    from bench import recipe
    from lightning_hw.callbacks import CurvesCallback, Lookahead

    pl.seed_everything(seed, workers=True)
    config = variant_config(config, change)
    leave_out = ()
    if not change.get("whiten_images", True):  # the first layer keeps its random, frozen init
        leave_out += ("FitWhitening",)
    added = [Lookahead()] if change.get("lookahead") else []  # its defaults are airbench's
    model = recipe.classifier(config)
    dm = recipe.datamodule(config, data_dir=data_dir)
    trainer = pl.Trainer(
        max_epochs=epochs,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[CurvesCallback(plot=False), *recipe.callbacks(config, leave_out), *added],
    )
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    seconds = time.perf_counter() - start
    test = trainer.test(model, datamodule=dm, verbose=False)[0]
    return {
        "acc": test["test/acc"],
        "seconds": seconds,
        "n_train": len(dm.splits["train"]),
        "n_test": len(dm.splits["test"]),
    }


def _write(out, rows, epochs, precision, seeds, meta, device) -> None:
    base = rows[0][1]
    lines = [
        "# CIFAR-10 CNN ablation",
        "",
        f"Each row changes one ingredient of `configs/cifar_cnn.yaml`; {epochs} epochs, {precision}, "
        f"{seeds} seeds each, trained on {meta['n_train']:,} CIFAR-10 training images and tested on "
        f"{meta['n_test']:,} test images, on {device}. Written by `python -m bench.cifar_ablation`.",
        "",
        "| variant | test accuracy (mean ± sd) | change vs baseline | train s / run |",
        "|---|---:|---:|---:|",
    ]
    for name, mean, sd, sec in rows:
        delta = "" if name.startswith("baseline") else f"{(mean - base) * 100:+.2f} pt"
        lines.append(f"| {name} | {mean:.4f} ± {sd:.4f} | {delta} | {sec:.1f} |")
    Path(out).write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data_dir", required=True)
    p.add_argument("--epochs", type=int, default=None, help="default: the config's max_epochs")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--precision", default=None, help="default: the config's (auto: bf16-mixed where native)"
    )
    p.add_argument(
        "--subset-ok", action="store_true", help="accept CIFAR-10 files whose MD5 differs (subsets)"
    )
    p.add_argument("--out", default="docs/cifar_ablation.md")
    args = p.parse_args(argv)
    if args.subset_ok:
        import torchvision

        torchvision.datasets.CIFAR10._check_integrity = lambda self: True
        torchvision.datasets.cifar.check_integrity = lambda *a, **k: True
    import logging

    import torch

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    from commands.cli import resolve_config

    config = resolve_config(str(ROOT / "configs" / "cifar_cnn.yaml"))
    epochs = args.epochs or config["trainer"]["max_epochs"]
    from bench import recipe

    precision = args.precision or recipe.precision(config)
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    rows, meta = [], None
    for name, change in VARIANTS.items():
        runs = [
            run_variant(config, change, args.data_dir, epochs, seed, precision)
            for seed in range(args.seeds)
        ]
        meta = runs[0]
        accs = [r["acc"] for r in runs]
        mean = statistics.mean(accs)
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        rows.append((name, mean, sd, statistics.mean(r["seconds"] for r in runs)))
        print(f"{name:45s} {mean:.4f} ± {sd:.4f}  ({rows[-1][3]:.1f} s)", flush=True)
        _write(args.out, rows, epochs, precision, args.seeds, meta, device)  # after every variant
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

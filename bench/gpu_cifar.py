"""Time the CIFAR-10 CNN on a GPU the way airbench times itself: one short, prepared run.

airbench94 (Keller Jordan) reports the time from the start of training (fitting the whitening
layer included) to the end of the final evaluation with test-time augmentation, with the data
already on the GPU, after an untimed warm-up run, CUDA-synchronized at both ends. ``time`` does
the same with our Classifier, DataModule and callbacks, built from the config (``bench.recipe``):
Lightning's own work is inside the timing; per-epoch validation, logging and checkpoints are
off, as airbench has none; cuDNN picks its fastest kernels (``cudnn.benchmark``), as airbench
does. It runs on the CPU too (the tests do, on tiny data).

A lent GPU machine has no internet and no jsonargparse, and takes at most 64 MiB per call. So,
here, where the data is::

    python -m bench.gpu_cifar pack [--config configs/cifar_cnn94.yaml] [--data_dir DIR]

writes ``.gpu_cifar/`` (git-ignored): ``config.yaml``, the config as ``train.py`` resolves it,
and ``cifar.tar.0`` ... ``.2``, CIFAR-10's official files in pieces of at most 60 MiB. Then three
device calls in a row (a warm machine keeps the ignored files of earlier calls)::

    carry .gpu_cifar/config.yaml, manifest.json, cifar.tar.0  command: true
    carry .gpu_cifar/cifar.tar.1                             command: true
    carry .gpu_cifar/cifar.tar.2     command: python3 -m bench.gpu_cifar time --out $OUT

``time`` joins the pieces, checks them against the manifest, trains ``--runs`` timed runs after
one warm-up and writes ``gpu_cifar.json`` and ``gpu_cifar.md`` (card, each run's accuracy and
seconds) under ``--out``; docs/cifar_cnn.md takes the figure and the card from there.
"""

import hashlib
import io
import json
import logging
import statistics
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from commands.entry import UserError, argument_parser, run_main  # noqa: E402

PACK = ROOT / ".gpu_cifar"
FOLDER = "cifar-10-batches-py"
PIECE_MIB = 60  # + the working tree (< 1 MiB) stays under a device call's 64 MiB


# -- here: the config and the data in pieces -----------------------------------------------------
def pack(config: str, data_dir, out: Path = PACK, piece_mib: float = PIECE_MIB, overrides=()):
    """Write ``out``/config.yaml, the tar of CIFAR-10's folder in pieces, and manifest.json."""
    import yaml

    from commands.cli import resolve_config
    from plumbing.paths import resolve_data_dir

    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)  # "Seed set to 0"
    resolved = resolve_config(config, *overrides)
    keep = {"seed_everything", "model", "data", "trainer"}
    trainer_keys = ("max_epochs", "precision", "accelerator", "callbacks")
    resolved = {k: v for k, v in resolved.items() if k in keep}
    resolved["trainer"] = {k: resolved["trainer"][k] for k in trainer_keys}
    resolved["data"]["init_args"].update(data_dir=None, download=False)
    resolved["name"] = Path(config).stem

    folder = resolve_data_dir(data_dir) / FOLDER
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist: pass --data_dir, a folder holding {FOLDER}/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=FOLDER)
    data = buffer.getvalue()
    size = int(piece_mib * 2**20)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("cifar.tar.*"), out / "manifest.json"]:
        old.unlink(missing_ok=True)  # the manifest comes last: a pack cut short has none
    pieces = []
    for i, start in enumerate(range(0, len(data), size)):
        (out / f"cifar.tar.{i}").write_bytes(data[start : start + size])
        pieces.append(f"cifar.tar.{i}")
    manifest = {"pieces": pieces, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (out / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def unpack(pack_dir: Path, data_dir: Path) -> Path:
    """Join the pieces into ``data_dir``/cifar-10-batches-py; a missing or wrong piece stops."""
    manifest = json.loads((pack_dir / "manifest.json").read_text())
    missing = [p for p in manifest["pieces"] if not (pack_dir / p).is_file()]
    if missing:
        raise UserError(f"{', '.join(missing)} missing in {pack_dir}: carry every piece")
    data = b"".join((pack_dir / p).read_bytes() for p in manifest["pieces"])
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise UserError(f"the pieces in {pack_dir} do not join into the packed data: pack again")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(data_dir, filter="data")
    return data_dir


# -- on the GPU: warm up, then time -------------------------------------------------------------
def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def train_once(config: dict, dm, precision: str, seed: int, max_steps: int = -1) -> dict:
    """Fit and test a fresh model on ``dm`` (data already loaded); seconds from the start of
    ``fit`` to the end of ``test``, synchronized with the device at both ends."""
    import pytorch_lightning as pl

    from bench import recipe

    pl.seed_everything(seed, workers=True)
    model = recipe.classifier(config)
    trainer = pl.Trainer(
        max_epochs=config["trainer"]["max_epochs"],
        max_steps=max_steps,
        precision=precision,
        accelerator=config["trainer"].get("accelerator", "auto"),
        devices=1,
        callbacks=recipe.callbacks(config),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,  # airbench evaluates once, at the end
        num_sanity_val_steps=0,
        benchmark=True,
    )
    _sync()
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    test = trainer.test(model, datamodule=dm, verbose=False)[0]
    _sync()
    return {"seconds": time.perf_counter() - start, "acc": float(test["test/acc"])}


def time_runs(pack_dir: Path, data_dir: Path, runs: int, warmup_steps: int, epochs=None) -> dict:
    import torch

    from bench import recipe
    from commands.configs import run_config

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    config = run_config(pack_dir)  # the pack's config.yaml, as a run saves it
    if epochs is not None:
        config["trainer"]["max_epochs"] = epochs
    precision = recipe.precision(config)
    dm = recipe.datamodule(config, data_dir=str(data_dir))
    seed = int(config.get("seed_everything") or 0)
    warm = train_once(config, dm, precision, seed, max_steps=warmup_steps)  # loads the data
    dm.prepare_data = lambda: None  # checked once; the timed runs do not re-read the files
    results = [train_once(config, dm, precision, seed + i) for i in range(runs)]
    seconds = [r["seconds"] for r in results]
    accs = [r["acc"] for r in results]
    return {
        "config": f"configs/{config['name']}.yaml",
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU",
        "torch": torch.__version__,
        "precision": precision,
        "epochs": config["trainer"]["max_epochs"],
        "warmup": warm,
        "runs": results,
        "median_seconds": statistics.median(seconds),
        "mean_acc": statistics.mean(accs),
    }


def markdown(r: dict) -> str:
    lines = [
        f"`{r['config']}` on {r['device']} (torch {r['torch']}, {r['precision']}, "
        f"{r['epochs']} epochs), timed as airbench times itself (`python -m bench.gpu_cifar`):",
        "",
        "| run (seed) | test accuracy (TTA) | seconds (whitening, training, final evaluation) |",
        "|---:|---:|---:|",
    ]
    lines += [
        f"| {i} | {run['acc']:.4f} | {run['seconds']:.2f} |" for i, run in enumerate(r["runs"])
    ]
    lines.append(f"| mean / median | {r['mean_acc']:.4f} | {r['median_seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argument_parser("python -m bench.gpu_cifar", __doc__)
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("pack", help="here: the resolved config and CIFAR-10 in <= 60 MiB pieces")
    a.add_argument("--config", default=str(ROOT / "configs" / "cifar_cnn94.yaml"))
    a.add_argument("--data_dir", default=None, help="default: $DATA_DIR, else data/")
    a.add_argument("--out", type=Path, default=PACK)
    a.add_argument("--piece_mib", type=float, default=PIECE_MIB)
    a.add_argument(
        "overrides", nargs="*", help="after --: train.py options, e.g. --trainer.max_epochs 10"
    )
    b = sub.add_parser("time", help="on the GPU: join the pieces, warm up, time --runs runs")
    b.add_argument("--pack", type=Path, default=PACK)
    b.add_argument("--data_dir", type=Path, default=Path("/tmp/gpu_cifar_data"))
    b.add_argument("--runs", type=int, default=3)
    b.add_argument("--warmup_steps", type=int, default=50)
    b.add_argument("--epochs", type=int, default=None, help="default: the config's")
    b.add_argument("--out", type=Path, default=Path("."))
    args = p.parse_args(argv)
    return run_main(lambda: run(args))


def run(args) -> int:
    if args.command == "pack":
        m = pack(args.config, args.data_dir, args.out, args.piece_mib, args.overrides)
        print(f"wrote {args.out}: config.yaml and {len(m['pieces'])} pieces ({m['bytes']:,} bytes)")
        return 0
    if not (args.pack / "manifest.json").is_file():
        raise UserError(
            f"{args.pack}/manifest.json not found: run `python -m bench.gpu_cifar pack` here first"
        )
    unpack(args.pack, args.data_dir)
    result = time_runs(args.pack, args.data_dir, args.runs, args.warmup_steps, args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_cifar.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "gpu_cifar.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

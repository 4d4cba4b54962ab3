"""The Lightning entry point behind ``train.py``: LightningCLI, then fit, test and a summary.

    python train.py --config configs/iris_numpy.yaml [--trainer.max_epochs 5] [--model.lr 0.05]
    python train.py --config configs/iris_numpy.yaml --print_config
    python train.py compare --config configs/iris_compare.yaml

A run writes ``lightning_logs/<experiment>/version_N/``: TensorBoard events (``train/loss``,
``train/acc``, ``val/...``, ``test/...`` and the HParams tab with the final test metrics),
``config.yaml`` (the resolved config), ``checkpoints/`` (best and last), ``metrics.json``
(per-epoch curves), ``test_metrics.json``, ``loss.png`` and ``accuracy.png``.
"""

import os
import sys
import warnings
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningCLI

from lightning_hw.callbacks import CurvesCallback
from lightning_hw.models import Classifier
from numpy_nn.logs import write_json

# Lightning's own deprecation noise on this torch version; nothing a user can act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")


class CLI(LightningCLI):
    """LightningCLI with our defaults: TensorBoard logging, best+last checkpoints, curves."""

    def __init__(self, args=None):
        super().__init__(
            model_class=Classifier,
            datamodule_class=pl.LightningDataModule,
            subclass_mode_data=True,
            run=False,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={
                "logger": {
                    "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
                    "init_args": {
                        "save_dir": "lightning_logs",
                        "name": "default",
                        "default_hp_metric": False,
                    },
                },
            },
            args=args,
            parser_kwargs={"exit_on_error": False},  # main() reports parse errors in one line
        )

    def add_arguments_to_parser(self, parser):
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume training: a checkpoint file, or 'last' for the newest last.ckpt of this experiment",
        )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/loss",
                "checkpoint.mode": "min",
                "checkpoint.save_last": True,
                "checkpoint.filename": "best-epoch{epoch:03d}",
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        parser.add_lightning_class_args(CurvesCallback, "curves")

    def before_instantiate_classes(self):
        """Resolve ``--ckpt_path``: 'last' means the newest ``version_N/checkpoints/last.ckpt`` of this
        experiment, and the resumed run keeps logging into that same ``version_N``."""
        ckpt = self.config.get("ckpt_path")
        if ckpt is None:
            return
        logger = self.config["trainer"].get("logger")
        init = (
            logger.get("init_args") if isinstance(logger, dict) or hasattr(logger, "get") else None
        )
        if ckpt == "last":
            if init is None:
                raise UsageError(
                    "--ckpt_path last needs the TensorBoard logger to know where runs live"
                )
            exp = Path(init["save_dir"]) / init["name"]
            found = sorted(
                exp.glob("version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime
            )
            if not found:
                raise UsageError(
                    f"--ckpt_path last: no checkpoints/last.ckpt under {exp}/version_*: nothing to resume"
                )
            ckpt = str(found[-1])
            self.config["ckpt_path"] = ckpt
        path = Path(ckpt)
        if not path.is_file():
            raise UsageError(f"--ckpt_path {ckpt}: no such file")
        _check_checkpoint(path, self.config)
        version = path.parent.parent.name
        if (
            init is not None
            and version.startswith("version_")
            and path.parent.parent.parent == Path(init["save_dir"]) / init["name"]
        ):
            init["version"] = version  # keep logging into the run being resumed


class UsageError(Exception):
    """A mistake in the command, its config or its files: reported in one line."""


def _check_checkpoint(path: Path, config) -> None:
    """Refuse a corrupt checkpoint, or one of another network, before training starts."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(
            f"{path} is not a readable checkpoint ({type(e).__name__}): corrupt, truncated, or not "
            "written by train.py; pass a checkpoints/*.ckpt file of this experiment"
        ) from None
    saved = (
        (ckpt.get("hyper_parameters") or {}).get("network", {}) if isinstance(ckpt, dict) else {}
    )
    wanted = config["model"]["network"]
    wanted_path = wanted.get("class_path") if hasattr(wanted, "get") else None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UsageError(f"{path} is not a Lightning checkpoint of this project")
    if (
        wanted_path
        and saved.get("class_path")
        and saved["class_path"].rsplit(".", 1)[-1] != wanted_path.rsplit(".", 1)[-1]
    ):
        raise UsageError(
            f"{path} holds a {saved['class_path']} but the config trains a {wanted_path}: "
            "pass a checkpoint of this experiment"
        )


def _flat_hparams(config: dict) -> dict:
    """Scalar settings as flat 'a/b/c' keys, for TensorBoard's HParams tab."""
    flat = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}" if prefix else k, v)
        elif isinstance(value, (int, float, str, bool)):
            flat[prefix.replace("/init_args", "")] = value

    for section in ("model", "data", "seed_everything"):
        walk(section, config.get(section))
    flat["trainer/max_epochs"] = config.get("trainer", {}).get("max_epochs")
    return {k: v for k, v in flat.items() if v is not None}


def _user_error(e: Exception):
    """One line for the errors a user can fix; None for bugs (which keep their traceback)."""
    from jsonargparse import ArgumentError

    from lightning_hw.datamodules.vision import DataMissingError

    if isinstance(e, ArgumentError):
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        return " ".join(lines) + " (see python train.py --help)"
    if isinstance(e, (UsageError, DataMissingError, FloatingPointError)):
        return str(e)
    return None


def train(args=None) -> dict:
    """Fit, then test the best checkpoint; return test metrics, history and where the run lives."""
    cli = CLI(args)
    trainer, model, data = cli.trainer, cli.model, cli.datamodule
    trainer.fit(model, datamodule=data, ckpt_path=cli.config.ckpt_path)
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    test = trainer.test(model, datamodule=data, ckpt_path=best or None, verbose=False)[0]
    if trainer.logger is not None:
        trainer.logger.log_hyperparams(_flat_hparams(cli.config.as_dict()), metrics=test)
        trainer.logger.finalize("success")
    log_dir = trainer.log_dir  # a collective under DDP: every rank must ask
    if trainer.global_rank == 0 and log_dir:
        write_json(
            os.path.join(log_dir, "test_metrics.json"),
            {k: float(v) for k, v in test.items()},
        )
    curves = next(c for c in trainer.callbacks if isinstance(c, CurvesCallback))
    return {
        "test": {k: float(v) for k, v in test.items()},
        "history": curves.history,
        "log_dir": log_dir,
        "best_checkpoint": best,
        "trainer": trainer,
        "model": model,
    }


def main(argv=None) -> int:
    """Run train.py; a mistake (bad config, missing data, bad checkpoint, NaN loss) is reported in
    one line with exit status 2. Set NN_DEBUG=1 to see the traceback instead."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["compare"]:
        from lightning_hw.compare import main as compare_main

        return compare_main(args[1:])
    try:
        result = train(argv)
    except Exception as e:
        message = _user_error(e)
        if message is None or os.environ.get("NN_DEBUG"):
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    if result["trainer"].global_rank == 0:
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in result["test"].items())
        print(f"\n{metrics}\nrun saved to {result['log_dir']}")
    return 0

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
        )

    def add_arguments_to_parser(self, parser):
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume training from this checkpoint file",
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
    if trainer.global_rank == 0 and trainer.log_dir:
        write_json(
            os.path.join(trainer.log_dir, "test_metrics.json"),
            {k: float(v) for k, v in test.items()},
        )
    curves = next(c for c in trainer.callbacks if isinstance(c, CurvesCallback))
    return {
        "test": {k: float(v) for k, v in test.items()},
        "history": curves.history,
        "log_dir": trainer.log_dir,
        "best_checkpoint": best,
        "trainer": trainer,
        "model": model,
    }


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["compare"]:
        from lightning_hw.compare import main as compare_main

        return compare_main(args[1:])
    result = train(argv)
    if result["trainer"].global_rank == 0:
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in result["test"].items())
        print(f"\n{metrics}\nrun saved to {result['log_dir']}")
    return 0

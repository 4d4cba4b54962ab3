"""The Lightning run behind ``train.py``: LightningCLI, then fit, test and a summary.

A run writes ``lightning_logs/<experiment>/version_N/``: TensorBoard events (``train/loss``,
``train/acc``, ``val/...``, ``test/...``, the learning rate, the test split's confusion matrix
and misclassified images as images, and the HParams tab with the final test metrics),
``config.yaml`` (the resolved config), ``checkpoints/`` (best and last), ``metrics.json``
(per-epoch curves), ``test_metrics.json``, ``loss.png`` and ``accuracy.png``, and for image
datasets ``confusion_matrix.png``/``.json`` and ``misclassified.png``.
"""

import os
import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from commands.configs import expand, experiment_name
from commands.entry import UserError, parser_message, run_main, user_message
from lightning_hw.callbacks import CurvesCallback
from lightning_hw.classifier import Classifier, takes_total_steps
from lightning_hw.error_analysis import ErrorAnalysis
from lightning_hw.io import write_json
from lightning_hw.precision import auto_precision
from lightning_hw.seeding import StepSeed


class Trainer(pl.Trainer):
    """Lightning's Trainer, whose ``precision`` also takes ``auto`` (the default): the fastest
    precision this hardware runs natively (``lightning_hw.precision``). The CLI resolves ``auto``
    before this class is built, so the run's config records the choice."""

    def __init__(self, *args, precision: str | int | None = "auto", **kwargs):
        if precision == "auto":
            precision, _ = auto_precision(kwargs.get("accelerator", "auto"))
        super().__init__(*args, precision=precision, **kwargs)


def _backend(config) -> str | None:
    """``model.network.init_args.backend`` of a parsed config (None for networks without one)."""
    net = config["model"].get("network")
    init = net.get("init_args") if hasattr(net, "get") else None
    return init.get("backend") if hasattr(init, "get") else None


def _resolve_precision(config) -> str | None:
    """``trainer.precision: auto`` -> the choice for this machine; returns the line that states it."""
    if config["trainer"].get("precision", "auto") != "auto":
        return None
    choice, why = auto_precision(config["trainer"].get("accelerator", "auto"), _backend(config))
    config["trainer"]["precision"] = choice
    return f"precision auto -> {choice}: {why}"


def _numpy_on_cpu(config) -> None:
    """A numpy-backed network runs on the CPU: ``accelerator: auto`` picks it, and asking for
    another device is a one-line error (numpy cannot read GPU memory)."""
    if _backend(config) != "numpy":
        return
    accelerator = config["trainer"].get("accelerator")
    if accelerator == "auto":
        config["trainer"]["accelerator"] = "cpu"
    elif isinstance(accelerator, str) and accelerator != "cpu":
        raise UserError(
            f"--trainer.accelerator {accelerator}: the numpy backend runs on the CPU only (numpy "
            "cannot read GPU memory); use --trainer.accelerator cpu, or backend: torch on a GPU"
        )


class CLI(LightningCLI):
    """LightningCLI with our defaults: experiment files composed from their fragments, runs named
    after them, best+last checkpoints, curves, the learning-rate monitor, per-step seeds."""

    def __init__(self, args: list[str]):
        self.experiment = experiment_name(args)
        self.resume_from: dict | None = None  # the checkpoint of --ckpt_path, once read
        # "precision auto -> ...": said once the data is found (instantiate_trainer)
        self.precision_note: str | None = None
        super().__init__(
            model_class=Classifier,
            trainer_class=Trainer,
            datamodule_class=pl.LightningDataModule,
            subclass_mode_data=True,
            run=False,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,  # the Classifier takes its optimizer and schedule
            args=expand(args),
            parser_kwargs={"exit_on_error": False},  # main() reports parse errors in one line
        )

    def add_arguments_to_parser(self, parser):
        parser.add_argument(
            "--defaults",
            type=list[str] | None,
            default=None,
            help="fragments an experiment file builds on (loaded first; see commands/configs.py)",
        )
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
        parser.add_lightning_class_args(LearningRateMonitor, "lr_monitor")
        parser.add_lightning_class_args(ErrorAnalysis, "error_analysis")
        parser.add_lightning_class_args(StepSeed, "step_seed")

    def before_instantiate_classes(self):
        """Name the run after its experiment file when the config leaves the logger's name
        null; resolve ``--ckpt_path``: 'last' means the newest ``version_N/checkpoints/last.ckpt``
        of this experiment, and the resumed run keeps logging into that same ``version_N``."""
        logger = self.config["trainer"].get("logger")
        init = (
            logger.get("init_args") if isinstance(logger, dict) or hasattr(logger, "get") else None
        )
        if init is not None and init.get("name", "") is None:
            init["name"] = self.experiment or "default"
        _numpy_on_cpu(self.config)
        self.precision_note = _resolve_precision(self.config)
        ckpt = self.config.get("ckpt_path")
        if ckpt is None:
            return
        if ckpt == "last":
            if init is None:
                raise UserError(
                    "--ckpt_path last needs the TensorBoard logger to know where runs live"
                )
            exp = Path(init["save_dir"]) / init["name"]
            found = sorted(
                exp.glob("version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime
            )
            if not found:
                raise UserError(
                    f"--ckpt_path last: no checkpoints/last.ckpt under {exp}/version_*: nothing to resume"
                )
            ckpt = str(found[-1])
            self.config["ckpt_path"] = ckpt
        path = Path(ckpt)
        if not path.is_file():
            raise UserError(f"--ckpt_path {ckpt}: no such file")
        self.resume_from = _read_checkpoint(path)
        saved = (self.resume_from.get("hyper_parameters") or {}).get("network") or {}
        wanted = self.config["model"]["network"]
        wanted_path = wanted.get("class_path") if hasattr(wanted, "get") else None
        if (
            wanted_path
            and saved.get("class_path", wanted_path).rsplit(".", 1)[-1]
            != wanted_path.rsplit(".", 1)[-1]
        ):
            raise UserError(
                f"{path} holds a {saved['class_path']} but the config trains a {wanted_path}: "
                "pass a checkpoint of this experiment"
            )
        run = path.resolve().parent.parent  # .../<experiment>/version_N/checkpoints/x.ckpt
        if (
            init is not None
            and run.name.startswith("version_")
            and run.parent == (Path(init["save_dir"]) / init["name"]).resolve()
        ):
            init["version"] = run.name  # keep logging into the run being resumed

    def instantiate_trainer(self, **kwargs):
        """Before the Trainer is built, refuse bad settings (cheapest first: the optimizer and
        schedule, a checkpoint of another network), then find (or download) the data. A mistake
        is then reported in one line, not after Lightning's set-up messages. Under DDP only the
        first process of each machine looks for the data (Lightning's rule for ``prepare_data``);
        the DataModule remembers it, so ``fit`` does not read the files again."""
        if self.resume_from is not None:
            _check_architecture(Path(self.config.ckpt_path), self.resume_from, self.model)
        _check_optimizer(self.model)
        if os.environ.get("LOCAL_RANK", "0") == "0":
            self.datamodule.prepare_data()
            if self.precision_note:
                print(self.precision_note, flush=True)
        return super().instantiate_trainer(**kwargs)

    def instantiate_classes(self):
        try:
            super().instantiate_classes()
        except (ValueError, MisconfigurationException) as e:
            raise UserError(parser_message(str(e))) from None
        if self.trainer.logger is None:  # nothing to log the learning rate to
            self.trainer.callbacks = [
                c for c in self.trainer.callbacks if not isinstance(c, LearningRateMonitor)
            ]


def _read_checkpoint(path: Path) -> dict:
    """A checkpoint of this project, or a UserError saying what the file is instead."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(
            f"{path} is not a readable checkpoint ({type(e).__name__}): corrupt, truncated, or not "
            "written by train.py; pass a checkpoints/*.ckpt file of this experiment"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise UserError(f"{path} is not a Lightning checkpoint of this project")
    return ckpt


def _describe(network: dict) -> str:
    """``IrisFFNN(backend=torch, hidden=25, ...)``: a saved network's class and its arguments."""
    name = str(network.get("class_path", "?")).rsplit(".", 1)[-1]
    args = ", ".join(f"{k}={v}" for k, v in (network.get("init_args") or {}).items() if k != "seed")
    return f"{name}({args})"


def _check_architecture(path: Path, ckpt: dict, model: Classifier) -> None:
    """Refuse a checkpoint of another network (class, widths, backend) before anything runs:
    its tensors must have the names and shapes of the configured model's."""
    saved = {k: tuple(v.shape) for k, v in ckpt["state_dict"].items()}
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if saved != wanted:
        theirs = _describe((ckpt.get("hyper_parameters") or {}).get("network") or {})
        ours = _describe(
            model.hparams.get("network") or {"class_path": type(model.network).__name__}
        )
        raise UserError(
            f"{path} holds {theirs} but the config trains {ours}: "
            "pass a checkpoint of this experiment, or change the config to match it"
        )


def _check_optimizer(model: Classifier) -> None:
    """Build the optimizer and schedule once, aside, so that a bad setting (a negative lr, a
    warm-up fraction of 2, ...) is refused before anything runs."""
    try:
        optimizer = model.optimizer(model.param_groups())
        if model.lr_scheduler is not None:
            steps = {"total_steps": 100} if takes_total_steps(model.lr_scheduler) else {}
            model.lr_scheduler(optimizer, **steps)
    except ValueError as e:
        raise UserError(f"model.optimizer / model.lr_scheduler: {e}") from None


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


def train(args: list[str]) -> dict:
    """Fit, then test the best checkpoint; return test metrics, history and where the run lives."""
    cli = CLI(args)
    trainer, model, data = cli.trainer, cli.model, cli.datamodule
    log_dir = getattr(trainer.logger, "log_dir", None)  # None without a logger, or in fast_dev_run
    run_dir = Path(log_dir) if log_dir else None
    new_run = run_dir is not None and not run_dir.exists()
    try:
        trainer.fit(model, datamodule=data, ckpt_path=cli.config.ckpt_path)
    except Exception as e:
        if new_run and trainer.global_rank == 0 and user_message(e) is not None:
            _remove_unfinished(run_dir)
        raise
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
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # End the process group while the interpreter is whole: left to exit, gloo's threads
        # can abort the process ("terminate called without an active exception", status -6).
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    curves = next(c for c in trainer.callbacks if isinstance(c, CurvesCallback))
    return {
        "test": {k: float(v) for k, v in test.items()},
        "history": curves.history,
        "log_dir": log_dir,
        "best_checkpoint": best,
        "trainer": trainer,
        "model": model,
    }


def _remove_unfinished(run_dir: Path) -> None:
    """A run refused by a user error leaves nothing behind, unless it saved a checkpoint."""
    if run_dir.is_dir() and not any(run_dir.glob("checkpoints/*.ckpt")):
        shutil.rmtree(run_dir)
        for folder in (run_dir.parent, run_dir.parent.parent):  # <experiment>/, lightning_logs/
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def main(argv: list[str]) -> int:
    """Train; a mistake (bad config, missing data, bad checkpoint, NaN loss) is reported in one
    line with exit status 2 (commands/errors.py)."""

    def body() -> int:
        result = train(argv)
        if result["trainer"].global_rank == 0:
            metrics = "  ".join(f"{k} {v:.4f}" for k, v in result["test"].items())
            print(f"\n{metrics}\nrun saved to {result['log_dir']}")
        return 0

    return run_main(body)


class ConfigOnly(CLI):
    """The parsed and merged config, with nothing instantiated."""

    def before_instantiate_classes(self):
        pass

    def instantiate_classes(self):
        pass


def resolve_config(path: str, *overrides: str) -> dict:
    """The config an experiment file resolves to (fragments merged, defaults filled in)."""
    return ConfigOnly(["--config", path, *overrides]).config.as_dict()

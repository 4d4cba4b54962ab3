"""The Lightning run behind ``train.py``: LightningCLI, then fit, test and a summary.

A run writes its own folder (``lightning_hw.runs`` says where): TensorBoard events
(``train/loss``, ``train/acc``, ``val/...``, ``test/...``, the learning rate, the test split's confusion matrix
and misclassified images as images, and the HParams tab with the final test metrics),
``config.yaml`` (the resolved config), ``checkpoints/`` (best and last), ``metrics.json``
(per-epoch curves), ``test_metrics.json``, ``loss.png`` and ``accuracy.png``, and for image
datasets ``confusion_matrix.png``/``.json`` and ``misclassified.png``.
"""

import os
import signal
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from commands.configs import Experiment
from commands.entry import Stopped, UserError, parser_message, user_message
from lightning_hw import checkpoints, runs
from lightning_hw.callbacks import CurvesCallback
from lightning_hw.classifier import Classifier, takes_total_steps
from lightning_hw.error_analysis import ErrorAnalysis
from lightning_hw.precision import auto_precision
from lightning_hw.seeding import StepSeed
from plumbing.files import write_json


class Trainer(pl.Trainer):
    """Lightning's Trainer, whose ``precision`` also takes ``auto`` (the default): the fastest
    precision this hardware runs natively (``lightning_hw.precision``). The CLI resolves ``auto``
    once, before this class is built (``_resolve_precision``), so the run's config records the
    choice. Checkpoints are written whole or not at all (``checkpoints.AtomicCheckpointIO``)
    unless ``plugins`` names a writer."""

    def __init__(self, *args, precision: str | int | None = "auto", plugins=None, **kwargs):
        if precision == "auto":
            raise ValueError("precision 'auto' is resolved by commands.cli.CLI before the Trainer")
        if plugins is None:
            plugins = [checkpoints.AtomicCheckpointIO()]
        super().__init__(*args, precision=precision, plugins=plugins, **kwargs)


def _resolve_precision(config, backend: str | None) -> str | None:
    """``trainer.precision: auto`` -> the choice for this machine and the network's ``backend``;
    returns the line that states it."""
    if config["trainer"].get("precision", "auto") != "auto":
        return None
    choice, why = auto_precision(config["trainer"].get("accelerator", "auto"), backend)
    config["trainer"]["precision"] = choice
    return f"precision auto -> {choice}: {why}"


def _numpy_on_cpu(config, backend: str | None) -> None:
    """A numpy-backed network runs on the CPU: ``accelerator: auto`` picks it, and asking for
    another device is a one-line error (numpy cannot read GPU memory)."""
    if backend != "numpy":
        return
    accelerator = config["trainer"].get("accelerator")
    if accelerator == "auto":
        config["trainer"]["accelerator"] = "cpu"
    elif isinstance(accelerator, str) and accelerator != "cpu":
        raise UserError(
            f"--trainer.accelerator {accelerator}: the numpy backend runs on the CPU only (numpy "
            "cannot read GPU memory); use --trainer.accelerator cpu, or backend: torch on a GPU"
        )


def _first_process() -> bool:
    """The process that creates the run's folder (DDP's other ranks are told its name)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def _logger_args(config):
    """The logger's ``init_args`` (save_dir, name, version), or None without a logger."""
    logger = config["trainer"].get("logger")
    return logger.get("init_args") if hasattr(logger, "get") else None


class CLI(LightningCLI):
    """LightningCLI with our defaults: experiment files composed from their fragments, runs named
    after them, best+last checkpoints, curves, the learning-rate monitor, per-step seeds."""

    def __init__(self, experiment: Experiment | list[str]):
        """``experiment``: as read at the entry (``Experiment.from_argv``), or its command line."""
        if not isinstance(experiment, Experiment):
            experiment = Experiment.from_argv(experiment)
        self.experiment = experiment
        self.resume_from: dict | None = None  # the checkpoint of --ckpt_path, once read
        self.claimed: Path | None = None  # the run folder this run created (_claim_version)
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
            args=list(experiment.overrides),
            parser_kwargs={"exit_on_error": False},  # main() reports parse errors in one line
        )

    def parse_arguments(self, parser, args) -> None:
        """The experiment's settings as read at the entry (``Experiment``: no file is parsed
        again), validated, with the command line's overrides (``args``) parsed on top."""
        settings = parser.parse_object(self.experiment.config) if self.experiment.config else None
        self.config = parser.parse_args(args, namespace=settings)

    def add_arguments_to_parser(self, parser):
        parser.add_argument(
            "--ckpt_path",
            type=str | None,
            default=None,
            help="resume training: a checkpoint file, or 'last' for the newest last checkpoint of this experiment",
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
        """The settings LightningCLI leaves to us, in order: the run's name, the numpy backend's
        device, ``precision: auto``, and what resuming (``--ckpt_path``) needs."""
        logger = _logger_args(self.config)
        if logger is not None and logger.get("name", "") is None:
            logger["name"] = self.experiment.name or "default"  # runs named after their file
        _numpy_on_cpu(self.config, self.experiment.backend)
        self.precision_note = _resolve_precision(self.config, self.experiment.backend)
        if self.config.get("ckpt_path") is not None:
            self.resume_from = self._resume(logger)

    def _resume(self, logger) -> dict:
        """Resolve ``--ckpt_path`` ('last': the newest last checkpoint of this experiment), read the
        checkpoint, refuse one of another network class, and keep logging into its run."""
        ckpt = self.config["ckpt_path"]
        if ckpt == "last":
            if logger is None:
                raise UserError(
                    "--ckpt_path last needs the TensorBoard logger to know where runs live"
                )
            found = runs.newest_last_checkpoint(logger["save_dir"], logger["name"])
            if found is None:
                where = Path(logger["save_dir"]) / logger["name"]
                raise UserError(
                    f"--ckpt_path last: no run under {where} has a last checkpoint: nothing to resume"
                )
            ckpt = self.config["ckpt_path"] = str(found)
        if not Path(ckpt).is_file():
            raise UserError(f"--ckpt_path {ckpt}: no such file")
        resumed = checkpoints.read(ckpt)
        done, wanted_epochs = resumed.get("epoch", -1) + 1, self.config["trainer"].get("max_epochs")
        if wanted_epochs is not None and wanted_epochs >= 0 and done >= wanted_epochs:
            raise UserError(
                f"--ckpt_path {ckpt} has finished {done} epochs and --trainer.max_epochs is "
                f"{wanted_epochs}: nothing is left to train; raise max_epochs to continue"
            )
        wanted = self.config["model"]["network"]
        if hasattr(wanted, "get") and wanted.get("class_path"):
            checkpoints.check_network_class(ckpt, resumed, wanted["class_path"])
        if logger is not None and (
            version := runs.run_of(ckpt, logger["save_dir"], logger["name"])
        ):
            logger["version"] = version  # keep logging into the run being resumed
        return resumed

    def instantiate_trainer(self, **kwargs):
        """Before the Trainer is built, refuse bad settings (cheapest first: the optimizer and
        schedule, a checkpoint of another network), then find (or download) the data. A mistake
        is then reported in one line, not after Lightning's set-up messages. Under DDP only the
        first process of each machine looks for the data (Lightning's rule for ``prepare_data``);
        the DataModule remembers it, so ``fit`` does not read the files again."""
        if self.resume_from is not None:
            checkpoints.check_architecture(self.config.ckpt_path, self.resume_from, self.model)
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
        self._claim_version()
        if self.trainer.logger is None:  # nothing to log the learning rate to
            self.trainer.callbacks = [
                c for c in self.trainer.callbacks if not isinstance(c, LearningRateMonitor)
            ]

    def _claim_version(self) -> None:
        """A new run takes its own folder (``runs.claim_version``: an atomic mkdir), once everything is
        built (a refusal up to here leaves no folder), so that runs started together into one
        save_dir never share one. The config keeps ``version: null``: rerunning a saved config
        starts a new run."""
        logger = self.trainer.logger
        if isinstance(logger, TensorBoardLogger) and logger._version is None and _first_process():
            self.claimed = runs.claim_version(logger.save_dir, logger.name)
            logger._version = self.claimed.name


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


def train(experiment: Experiment | list[str]) -> dict:
    """Fit, then test the best checkpoint; return test metrics, history and where the run lives.
    ``experiment``: as read at the entry, or its command line."""
    cli = CLI(experiment)
    trainer, model, data = cli.trainer, cli.model, cli.datamodule
    _fit(cli)
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


def _fit(cli: CLI) -> None:
    """``trainer.fit``; a run stopped by a signal or refused (by us or by Lightning's own checks
    of its settings) leaves nothing behind: no new run folder unless it saved a checkpoint to
    resume from, and no new file in a run it was resuming."""
    trainer = cli.trainer
    log_dir = getattr(trainer.logger, "log_dir", None)  # None without a logger, or in fast_dev_run
    run_dir = Path(log_dir) if log_dir else None
    new_run = run_dir is not None and (not run_dir.exists() or run_dir == cli.claimed)
    before = runs.snapshot(run_dir) if run_dir is not None and not new_run else None
    try:
        trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.ckpt_path)
    except BaseException as e:
        stopped = _stopped(trainer, e, cli.experiment, run_dir)
        mistake = user_message(e) is not None
        if trainer.global_rank == 0 and run_dir is not None and (stopped or mistake):
            if new_run:
                runs.remove_unfinished(run_dir)  # unless it saved a checkpoint to resume from
            elif mistake and before is not None:
                runs.restore(run_dir, before)
        if stopped:
            raise stopped from None
        raise


def _stopped(trainer, e: BaseException, experiment: Experiment, run_dir) -> Stopped | None:
    """A run ended by SIGTERM or SIGINT (Lightning turns them into SIGTERMException and
    ``sys.exit(1)``), as the one line that says how to continue it; None for anything else."""
    if not isinstance(e, SystemExit) or not trainer.interrupted:
        return None
    signum = signal.SIGTERM if getattr(trainer, "received_sigterm", False) else signal.SIGINT
    saved = run_dir is not None and runs.last_checkpoint(run_dir).is_file()
    how = (
        f"its last finished epoch is saved in {run_dir}: continue it with the same command and "
        "--ckpt_path last"
        if saved
        else "no epoch had finished, nothing was kept: run it again"
    )
    what = f"{experiment.name or 'the run'} was stopped by {signal.Signals(signum).name} "
    return Stopped(f"{what}at epoch {trainer.current_epoch}; {how}", signum)


def main(experiment: Experiment) -> int:
    """Train and print the test metrics and the run's folder (``commands/train.py`` reports a
    mistake in one line, exit status 2)."""
    result = train(experiment)
    if result["trainer"].global_rank == 0:
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in result["test"].items())
        print(f"\n{metrics}\nrun saved to {result['log_dir']}")
    return 0


class ConfigOnly(CLI):
    """The parsed and merged config, with nothing instantiated."""

    def before_instantiate_classes(self):
        pass

    def instantiate_classes(self):
        pass


def resolve_config(experiment: Experiment | str, *overrides: str) -> dict:
    """The config an experiment resolves to (fragments merged, defaults filled in): an
    Experiment, or a config file and overrides."""
    if isinstance(experiment, str):
        experiment = ["--config", experiment, *overrides]
    return ConfigOnly(experiment).config.as_dict()

"""A resolved experiment config turned into the objects ``train.py`` trains, without LightningCLI.

``python -m bench.cifar_ablation`` and ``python -m bench.gpu_cifar`` train a config's recipe on
their own Trainer (no logger, checkpoints or per-epoch validation; on a GPU machine that lacks
jsonargparse). They read the config as ``commands.cli.resolve_config`` gives it (fragments
merged, every default filled in) and build from it here, so they train what the config says.
A test compares these objects with the ones LightningCLI builds from the same config.
"""

import functools
import importlib


def _class(class_path: str):
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def instantiate(spec: dict):
    """``{"class_path": "a.b.C", "init_args": {...}}`` -> ``C(**init_args)``."""
    return _class(spec["class_path"])(**(spec.get("init_args") or {}))


def factory(spec: dict) -> functools.partial:
    """The same spec as a callable still missing its first argument (an optimizer's parameters,
    a scheduler's optimizer), as LightningCLI hands optimizers and schedulers to a module."""
    return functools.partial(_class(spec["class_path"]), **(spec.get("init_args") or {}))


def classifier(config: dict):
    """The config's ``model``: a Classifier with its network, optimizer and schedule."""
    from lightning_hw.classifier import Classifier

    model = dict(config["model"])
    model["network"] = instantiate(model["network"])
    model["optimizer"] = factory(model["optimizer"])
    if model.get("lr_scheduler"):
        model["lr_scheduler"] = factory(model["lr_scheduler"])
    return Classifier(**model)


def datamodule(config: dict, **overrides):
    """The config's ``data``, with ``overrides`` (e.g. ``data_dir``) replacing init arguments."""
    spec = config["data"]
    return instantiate({**spec, "init_args": {**(spec.get("init_args") or {}), **overrides}})


def callbacks(config: dict, leave_out: tuple[str, ...] = ()) -> list:
    """The config's ``trainer.callbacks`` in order, but for the classes named in ``leave_out``."""
    return [
        instantiate(spec)
        for spec in config["trainer"].get("callbacks") or []
        if spec["class_path"].rsplit(".", 1)[-1] not in leave_out
    ]


def precision(config: dict) -> str:
    """The config's precision, ``auto`` resolved for the device this process trains on."""
    chosen = config["trainer"].get("precision", "auto")
    if chosen != "auto":
        return chosen
    from lightning_hw.precision import auto_precision

    return auto_precision(config["trainer"].get("accelerator", "auto"))[0]

"""Checkpoints: the one place that reads them (``torch.load(weights_only=True)``: tensors,
numbers, strings, never pickled objects), with one set of error messages.

A checkpoint of ``train.py`` holds the weights (``state_dict``), the network's description
(``hyper_parameters["network"]``: class path and arguments, rebuilt only from ``lightning_hw.*``),
the DataModule's state under its class name (image DataModules: the training set's normalization)
and the training state (optimizer, schedule, callbacks, loops) that resuming needs.

    read(path)                       the checkpoint, or a CheckpointError saying what the file is
    check_network_class(path, c, n)  refuse a checkpoint of another network class than ``n``
    check_architecture(path, c, m)   refuse one whose tensors differ from the model ``m``'s
    load_classifier(path)            the Classifier, network and weights included, in eval mode
    image_datamodule(c, data_dir)    the image DataModule it was trained on, normalization restored
    weights_only(path)               the bytes of a copy without training state (for hw3.zip)
    AtomicCheckpointIO               how the Trainer writes them: whole, or not at all
"""

import io
import tempfile
from pathlib import Path

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lightning_hw.classifier import PRECISION_KEY, Classifier
from lightning_hw.datamodules.vision import VisionDataModule, image_datamodules
from lightning_hw.networks.base import build_network
from lightning_hw.runs import LAST_CHECKPOINT
from plumbing.files import write_bytes

TRAINING_ONLY = ("optimizer_states", "lr_schedulers", "callbacks", "loops")  # not needed to predict


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or not what the command needs."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, written to a temporary file beside the checkpoint and
    renamed into place (``plumbing.files.atomic_path``). Lightning's own (``_atomic_save``)
    writes through an fsspec transaction whose temporary file lies in /tmp, then *copies* it
    across file systems: on a full disk that left a truncated ``best-epoch000.ckpt`` behind and
    a traceback. Here a write that fails leaves nothing and is one line (an OutputError)."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, buffer.getbuffer())


def read(path: str | Path) -> dict:
    """A checkpoint of this project, or a CheckpointError saying what the file is instead."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist: pass a checkpoint of train.py ({LAST_CHECKPOINT} "
            "or checkpoints/best-*.ckpt)"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # random bytes, a truncated file, a pickle of arbitrary objects
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(e).__name__}): corrupt, truncated, or not "
            "written by train.py; pass a checkpoints/*.ckpt file of a run"
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a Lightning checkpoint of this project")
    return ckpt


def describe(network: dict) -> str:
    """``IrisFFNN(backend=torch, hidden=25, ...)``: a saved network's class and its arguments."""
    name = str(network.get("class_path", "?")).rsplit(".", 1)[-1]
    args = ", ".join(f"{k}={v}" for k, v in (network.get("init_args") or {}).items() if k != "seed")
    return f"{name}({args})"


def saved_network(ckpt: dict) -> dict:
    """The network description a checkpoint records ({} when it records none)."""
    return (ckpt.get("hyper_parameters") or {}).get("network") or {}


def check_network_class(path: str | Path, ckpt: dict, class_path: str) -> None:
    """Refuse, before anything is built, a checkpoint of another network class than
    ``class_path`` (the class name decides: a config may spell its module differently)."""
    saved = saved_network(ckpt).get("class_path", class_path)
    if saved.rsplit(".", 1)[-1] != class_path.rsplit(".", 1)[-1]:
        raise CheckpointError(
            f"{path} holds a {saved} but the config trains a {class_path}: "
            "pass a checkpoint of this experiment"
        )


def check_architecture(path: str | Path, ckpt: dict, model: Classifier) -> None:
    """Refuse a checkpoint of another network (class, widths, backend) before anything runs:
    its tensors must have the names and shapes of the configured model's."""
    saved = {k: tuple(v.shape) for k, v in ckpt["state_dict"].items()}
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if saved != wanted:
        ours = model.hparams.get("network") or {"class_path": type(model.network).__name__}
        raise CheckpointError(
            f"{path} holds {describe(saved_network(ckpt))} but the config trains {describe(ours)}: "
            "pass a checkpoint of this experiment, or change the config to match it"
        )


def load_classifier(path: str | Path, ckpt: dict | None = None) -> Classifier:
    """Rebuild a Classifier (network included) from a checkpoint alone, in eval mode."""
    ckpt = read(path) if ckpt is None else ckpt
    hp = {k: v for k, v in (ckpt.get("hyper_parameters") or {}).items() if not k.startswith("_")}
    if "network" not in hp:
        raise CheckpointError(
            f"{path} does not record its network: it was not written by this project's Classifier"
        )
    try:
        model = Classifier(network=build_network(hp.pop("network")), **hp)
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"cannot load checkpoint {path}: {str(e).splitlines()[0]}") from None
    return model.eval()


def image_datamodule(path: str | Path, ckpt: dict, data_dir: str | None = None) -> VisionDataModule:
    """The image DataModule a checkpoint was trained on, with its normalization restored (the
    data directory: ``data_dir``, else the one it was trained with)."""
    known = image_datamodules()
    names = [name for name in known if name in ckpt]
    if not names:
        raise CheckpointError(
            f"checkpoint {path} was not trained on an image dataset ({', '.join(sorted(known))}): "
            "predict.py needs a checkpoint of an image experiment"
        )
    hparams = ckpt.get("datamodule_hyper_parameters") or {}
    datamodule = known[names[0]](
        data_dir=data_dir or hparams.get("data_dir"),
        eval_batch_size=hparams.get("eval_batch_size", 1000),
    )
    datamodule.load_state_dict(ckpt[names[0]])
    return datamodule


def precision(ckpt: dict) -> str | None:
    """The precision a checkpoint was trained and tested at (None: written before it was kept)."""
    return ckpt.get(PRECISION_KEY)


def weights_only(path: str | Path) -> bytes:
    """A checkpoint without its training state (optimizer, schedule, callbacks such as
    Lookahead's average, loops) and without this machine's paths: the weights, the network's
    description and the DataModule's normalization, all that ``load_classifier`` and
    ``predict.py`` read."""
    kept = {k: without_local_paths(v, k) for k, v in read(path).items() if k not in TRAINING_ONLY}
    with tempfile.TemporaryFile() as f:
        torch.save(kept, f)
        f.seek(0)
        return f.read()


def without_local_paths(value, key: str = ""):
    """A run's settings with this machine's paths taken out: the log directory becomes
    ``lightning_logs``; any other absolute or parent-relative path becomes null (the data
    directory then defaults to $DATA_DIR, else data/)."""
    if isinstance(value, dict):
        return {k: without_local_paths(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [without_local_paths(v, key) for v in value]
    if isinstance(value, str) and (Path(value).is_absolute() or value.startswith("..")):
        return "lightning_logs" if key == "save_dir" else None
    return value

"""Predictions from a checkpoint alone, written as ``predictions.csv`` (``Id,Category``).

    python predict.py --ckpt PATH [--input FILE.npy] [--output predictions.csv]

The checkpoint holds the network's description, its weights, the DataModule's normalization
constants and the precision it was tested at: the DataModule is rebuilt from it (any image
DataModule: ``lightning_hw.checkpoints``) and ``trainer.predict`` runs its predict loader at that
precision, so the images go through exactly the eval transform of training (x / 255, then the
training set's per-channel mean and std) and the network's test-time augmentation, and the
printed accuracy is the run's test accuracy.

``--input``: an unlabeled uint8 ``.npy`` of N images, stored as rows of C*H*W values
(channel-planar), as N x C x H x W, or as N x H x W x C. Without it, the
official test split from the data directory is used and the accuracy is printed.
Ids run 1..N in input order; categories are integer labels.
"""

import os

import numpy as np
import pytorch_lightning as pl
import torch

from commands.allocator import keep_freed_memory
from commands.entry import UserError, argument_parser, run_main
from commands.quiet import no_trainer_banner, quiet_lightning
from lightning_hw import checkpoints
from lightning_hw.classifier import Classifier
from lightning_hw.datamodules import VisionDataModule
from lightning_hw.precision import auto_precision
from plumbing.files import atomic_path, writable_file

NPY_MAGIC, ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"


def _read_npy(path: str) -> np.ndarray:
    """The array in a .npy file, or a UserError that says what the file is instead."""
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
    if head.startswith(ZIP_MAGIC):
        raise UserError(
            f"{path} is an .npz archive, not a .npy array: save the images alone with "
            "np.save('test.npy', images)"
        )
    if head != NPY_MAGIC:
        kind = "empty" if not head else "not a .npy file (no NumPy header)"
        raise UserError(f"{path} is {kind}: save the images with np.save('test.npy', images)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise UserError(
                f"{path} holds Python objects (dtype object), which are refused for safety: "
                "save a plain uint8 array with np.save"
            ) from None
        raise UserError(
            f"{path} is truncated or damaged ({e}): save it again with np.save"
        ) from None
    except (EOFError, OSError) as e:
        raise UserError(
            f"{path} is truncated or damaged ({e}): save it again with np.save"
        ) from None


def load_images(path: str, shape) -> np.ndarray:
    """A user's .npy as uint8 N x C x H x W, or a UserError saying what is wrong with it."""
    c, h, w = shape
    if not os.path.isfile(path):
        raise UserError(f"input file {path} does not exist")
    arr = _read_npy(path)
    if arr.ndim == 0 or arr.size == 0 or arr.shape[0] == 0:
        raise UserError(
            f"{path} holds no images (shape {arr.shape}): expected N x {c * h * w} rows"
        )
    if arr.dtype != np.uint8:
        detail = ""
        if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
            detail = " and contains NaN"
        raise UserError(
            f"{path} has dtype {arr.dtype}{detail}: expected uint8 pixels 0-255 "
            "(convert with arr.astype(np.uint8) if the values are already 0-255)"
        )
    n = arr.shape[0]
    if arr.shape[1:] not in input_shapes(shape):
        raise UserError(f"{path} has shape {arr.shape}: expected {formats(shape)} uint8 images")
    if arr.shape[1:] == (c * h * w,):
        return arr.reshape(n, c, h, w)
    if arr.shape[1:] == (c, h, w):
        return arr
    if arr.shape[1:] == (h, w, c):
        return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))
    return arr[:, None]  # (h, w): one channel


def input_shapes(shape) -> list[tuple[int, ...]]:
    """What ``--input`` may hold after N, for a dataset's (C, H, W): rows of C*H*W values
    (channel-planar), C x H x W, H x W x C, and H x W for one channel."""
    c, h, w = shape
    return [(c * h * w,), (c, h, w), (h, w, c)] + ([(h, w)] if c == 1 else [])


def formats(shape) -> str:
    """``input_shapes`` as README and the errors say them: "N x 784, N x 1 x 28 x 28, ..."."""
    return ", ".join(" x ".join(["N", *map(str, s)]) for s in input_shapes(shape))


def cpu_precision(trained: str | None) -> str:
    """The precision to predict at: the one the run was tested at, so the accuracy matches its
    test accuracy to the last digit; but not bf16 on a CPU that would emulate it (4-16x slower:
    ``lightning_hw.precision``), nor for a checkpoint that does not say (the CPU's choice then)."""
    native, _ = auto_precision("cpu")
    if trained is None or (trained.startswith("bf16") and native != "bf16-mixed"):
        return native
    return trained


def predict(model: Classifier, datamodule: VisionDataModule, precision="32-true") -> np.ndarray:
    """Labels for the DataModule's predict images, by ``trainer.predict`` on the CPU."""
    with no_trainer_banner():
        trainer = pl.Trainer(
            accelerator="cpu",
            precision=precision,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        batches = trainer.predict(model, datamodule=datamodule)
    return torch.cat(batches).numpy()


def write_csv(path: str, labels: np.ndarray) -> None:
    """Id,Category rows (Ids 1..N), written to a temporary file and renamed into place."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write("Id,Category\n")
        f.writelines(f"{i},{int(c)}\n" for i, c in enumerate(labels, start=1))


def run(ckpt: str, input_path: str | None, output: str, data_dir: str | None = None) -> dict:
    writable_file(output)  # a folder, a missing or read-only folder: refused before any work
    saved = checkpoints.read(ckpt)
    model = checkpoints.load_classifier(ckpt, saved)
    dm = checkpoints.image_datamodule(ckpt, saved, data_dir)
    labels = None
    if input_path:
        dm.predict_images = torch.from_numpy(load_images(input_path, dm.image_shape))
    else:
        dm.predict_images, labels = dm.load_split(train=False)
    predictions = predict(model, dm, cpu_precision(checkpoints.precision(saved)))
    write_csv(output, predictions)
    result = {"n": len(predictions), "output": output, "predictions": predictions}
    if labels is not None:
        result["accuracy"] = float((predictions == labels.numpy()).mean())
    return result


def main(argv=None) -> int:
    p = argument_parser("predict.py", __doc__)
    p.add_argument("--ckpt", required=True, help="a checkpoint written by train.py")
    p.add_argument(
        "--input", default=None, help="uint8 .npy of images (default: the official test split)"
    )
    p.add_argument(
        "--output", default="predictions.csv", help="CSV to write (default predictions.csv)"
    )
    p.add_argument(
        "--data_dir",
        default=None,
        help="data directory for the test split (default: as trained, $DATA_DIR, data/)",
    )
    args = p.parse_args(argv)
    keep_freed_memory()
    quiet_lightning()

    def body() -> int:
        r = run(args.ckpt, args.input, args.output, args.data_dir)
        print(f"wrote {r['n']} predictions to {r['output']}")
        if "accuracy" in r:
            print(f"accuracy on the labeled test split: {r['accuracy']:.4f}")
        return 0

    return run_main(body)

"""Fashion-MNIST and CIFAR-10 DataModules, held in memory as uint8 tensors.

torchvision reads the official files (``download=True`` into the data directory: on a machine
with the files already there, or offline against ``../shared/data``, nothing is fetched).
Batches are then cut from one uint8 tensor, and the transforms run on whole batches:

    eval transform:   x / 255, normalize with the training set's per-channel mean and std
    train transform:  the eval transform, then horizontal flip (random, or airbench's alternating
                      one) and random translation (reflect-padded crop) per image, on the batch's
                      device once it is there

This is several times faster than per-image PIL transforms on a CPU and gives the same images.
On a GPU (``on_device``, the default) the whole dataset moves there once, still uint8 (150 MB for
CIFAR-10), and batches are cut, normalized and augmented there: no per-step copies from the host.
The training order of epoch e is a permutation drawn from (seed, e) alone (``EpochShuffle``), the
same on every DDP rank (Lightning shards it); each step's augmentations draw from a generator
seeded by (seed, epoch, step, rank): a run resumed at an epoch boundary repeats both.
The mean and std are part of the DataModule's state, so they travel in every checkpoint and
``predict.py`` applies exactly the eval transform the model was trained with.
"""

import functools
from pathlib import Path
from typing import Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from lightning_hw.datamodules.sampling import EpochShuffle, world_of
from lightning_hw.seeding import current_seed, derived_seed
from plumbing.files import no_new_empty_folders
from plumbing.paths import DataMissingError, resolve_data_dir


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (n, c, h, w) -> float32, scaled to [0, 1], then (x - mean) / std per channel."""
    x = images.float().div_(255.0)
    mean, std = mean.to(x.device), std.to(x.device)  # no-ops where they already are
    return x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))


def channel_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and (unbiased) std of uint8 images (n, c, h, w), scaled to [0, 1].

    Computed from each channel's histogram of the 256 pixel values, in float64: exact and the same
    whatever the number of threads (float32 sums over millions of pixels are not, and DDP's
    processes run with fewer threads than one process)."""
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].flatten(), minlength=256).double()
        n = counts.sum()
        mean = (counts * values).sum() / n
        means.append(mean)
        stds.append(((counts * (values - mean) ** 2).sum() / (n - 1)).sqrt())
    return torch.stack(means).float(), torch.stack(stds).float()


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(len(x), generator=generator, device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


FLIP_STREAM = 0x666C6970  # "flip": the first epoch's flips draw from their own stream of numbers


def alternating_flips(n: int, seed: int, epoch: int) -> torch.Tensor:
    """airbench's alternating flip: which of ``n`` training images to mirror in ``epoch`` (bool).

    Epoch 0 mirrors a seeded random half; each later epoch mirrors exactly the images the epoch
    before did not. Every image is then seen both ways in any two epochs running, where random
    flips show half of the images the same way twice: more variety for the same steps.
    """
    generator = torch.Generator().manual_seed(derived_seed(FLIP_STREAM, seed))
    first = torch.rand(n, generator=generator) < 0.5
    return first ^ bool(epoch % 2)


def random_translate(
    x: torch.Tensor, pad: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image by up to ``pad`` pixels in each direction (reflect padding, random crop)."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=x.device)
    arange = functools.partial(torch.arange, device=x.device)
    rows = (dy.view(n, 1) + arange(h)).view(n, 1, h, 1)
    cols = (dx.view(n, 1) + arange(w)).view(n, 1, 1, w)
    return padded[arange(n).view(n, 1, 1, 1), arange(c).view(1, c, 1, 1), rows, cols]


class BatchedImages(Dataset):
    """uint8 images and labels whose batches are fetched and normalized at once (``__getitems__``:
    the DataLoader passes a whole batch of indices)."""

    def __init__(self, images, labels, mean, std):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x, y = self.__getitems__([i])
        return x[0], y[0]

    def __getitems__(self, indices):
        idx = torch.as_tensor(indices)
        if self.images.device.type == "cuda":  # from pinned memory: the copy does not wait for
            idx = idx.pin_memory().to(self.images.device, non_blocking=True)  # the GPU's queue
        return normalize(self.images[idx], self.mean, self.std), self.labels[idx]

    def to(self, device: torch.device) -> "BatchedImages":
        """Move images, labels and the normalization constants to ``device`` (in place)."""
        for name in ("images", "labels", "mean", "std"):
            setattr(self, name, getattr(self, name).to(device))
        return self


def _whole_batch(batch):
    return batch  # __getitems__ already returns the collated (x, y)


class VisionDataModule(pl.LightningDataModule):
    """Shared logic. A subclass declares its images (``image_shape``: what ``predict.py``
    reads; ``classes``: the names the pictures show) and how to read them: by default, the
    torchvision dataset ``dataset_name`` in ``folder`` of the data directory, its arrays put in
    n x c x h x w by ``as_nchw``; a dataset from elsewhere overrides ``download`` and
    ``load_split``."""

    dataset_name = ""  # torchvision class name
    folder = ""  # what torchvision creates under the data directory
    image_shape: tuple[int, int, int] = (0, 0, 0)  # (channels, height, width)
    classes: tuple[str, ...] = ()

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 256,
        eval_batch_size: int = 1024,
        num_workers: int = 0,
        pin_memory: bool = False,
        val_split: int | Literal["test"] = "test",
        seed: int | None = None,
        flip: bool | Literal["alternating"] = False,
        translate: int = 0,
        download: bool = True,
        on_device: bool = True,
    ):
        """
        Args:
            data_dir: where the dataset lives (default: $DATA_DIR, else data/).
            batch_size, eval_batch_size: training and evaluation batch sizes.
            num_workers, pin_memory: DataLoader settings.
            val_split: "test" validates on the official test split (as the assignment does); an
                integer n holds out n seeded-random training images instead (the test split then
                stays unseen until testing).
            seed: seed of the training order and of that hold-out split (default: the one
                ``seed_everything`` set).
            flip, translate: training augmentation: mirror each image with probability 1/2
                (True) or as ``alternating_flips`` says ("alternating"); shift up to n pixels.
            download: let torchvision download missing files into data_dir.
            on_device: keep the dataset on the Trainer's device (a GPU: no per-step copies from
                the host; num_workers and pin_memory then do not apply). On the CPU it changes
                nothing.
        """
        super().__init__()
        if batch_size < 1 or eval_batch_size < 1:
            raise ValueError(
                f"batch sizes must be at least 1, got {batch_size} and {eval_batch_size}"
            )
        if not (val_split == "test" or (isinstance(val_split, int) and val_split > 0)):
            raise ValueError(
                f"val_split must be 'test' or a positive number of images, got {val_split!r}"
            )
        if flip not in (True, False, "alternating"):
            raise ValueError(f"flip must be true, false or 'alternating', got {flip!r}")
        if seed is None:  # one seed fixes everything: take the one seed_everything() set
            seed = current_seed()
        self.save_hyperparameters()
        self.hparams.seed = seed
        self.data_dir = resolve_data_dir(data_dir)
        self.mean = torch.zeros(0)
        self.std = torch.zeros(0)
        self.predict_images: torch.Tensor | None = None  # default: the official test split
        self._augmented = (None, -1, 0)  # (the Trainer's token, epoch, steps augmented in it)
        self._flips: tuple[int, torch.Tensor | None] = (-1, None)  # (epoch, its flips)
        self._prepared = False  # both splits found (or downloaded) by this DataModule

    # -- reading the official files -----------------------------------------------------------
    def _torchvision(self, train: bool):
        import torchvision

        cls = getattr(torchvision.datasets, self.dataset_name)
        try:
            return cls(str(self.data_dir), train=train, download=self.hparams.download)
        except Exception as e:  # no network, corrupt or partial files, permissions
            if self.hparams.download:
                why = (
                    "could not be downloaded "
                    f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no details'})"
                )
                online = "run once with internet access"
            else:
                why, online = "downloading is off", "let it download (data.download true)"
            expected = self._official_files(cls)
            missing = [str(f) for f in expected if not f.exists()]
            if 0 < len(missing) < len(expected):  # a partial copy: name what is missing
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                raise DataMissingError(
                    f"{self.dataset_name} in {Path(self.data_dir) / self.folder} is incomplete: "
                    f"{missing[0]}{more} is missing and {why}. Put the official files there, "
                    f"or {online}."
                ) from None
            raise DataMissingError(
                f"{self.dataset_name} not found in {Path(self.data_dir).resolve()} and {why}. "
                f"Put the official files in {Path(self.data_dir) / self.folder}, point data.data_dir "
                f"or DATA_DIR at a folder that holds them, or {online}."
            ) from None

    def _official_files(self, cls) -> list[Path]:
        """The official files torchvision reads from the data directory (CIFAR's pickled
        batches, the MNIST family's raw IDX files)."""
        root = Path(self.data_dir)
        if hasattr(cls, "train_list"):
            return [root / cls.base_folder / name for name, _ in cls.train_list + cls.test_list]
        return [root / self.folder / "raw" / Path(name).stem for name, _ in cls.resources]

    @staticmethod
    def as_nchw(images: torch.Tensor) -> torch.Tensor:
        """torchvision's ``data`` array -> uint8 n x c x h x w (the subclass knows its layout)."""
        return images

    def load_split(self, train: bool):
        """(uint8 images n x c x h x w, int64 labels n) of the official train or test split."""
        ds = self._torchvision(train)
        images = self.as_nchw(torch.as_tensor(ds.data))
        return images.contiguous(), torch.as_tensor(ds.targets, dtype=torch.long)

    def download(self) -> None:
        """Make both splits present (downloading where allowed), or raise DataMissingError and
        leave no empty folder behind."""
        with no_new_empty_folders(self.data_dir):
            self._torchvision(True)
            self._torchvision(False)

    def prepare_data(self):
        """Download (where allowed) and check both splits, once: fit and test both ask."""
        if self.predict_images is not None or self._prepared:  # given images need no dataset
            return
        self.download()
        self._prepared = True

    def setup(self, stage: str | None = None):
        if stage == "predict":  # only the images to label, with the normalization of training
            if self.predict_images is None:
                self.predict_images, _ = self.load_split(False)
            return
        if hasattr(self, "splits"):
            return
        train_x, train_y = self.load_split(True)
        test_x, test_y = self.load_split(False)
        if self.hparams.val_split == "test":
            val_x, val_y = test_x, test_y
        else:
            n_val = self.hparams.val_split
            if n_val >= len(train_x):
                raise ValueError(
                    f"val_split {n_val} leaves no training images (train has {len(train_x)})"
                )
            perm = torch.randperm(
                len(train_x), generator=torch.Generator().manual_seed(self.hparams.seed)
            )
            val_x, val_y = train_x[perm[:n_val]], train_y[perm[:n_val]]
            train_x, train_y = train_x[perm[n_val:]], train_y[perm[n_val:]]
        if self.mean.numel() == 0:  # restored from a checkpoint otherwise
            self.mean, self.std = channel_statistics(train_x)
        test = BatchedImages(test_x, test_y, self.mean, self.std)
        self.splits = {
            "train": BatchedImages(train_x, train_y, self.mean, self.std),
            "val": test if val_x is test_x else BatchedImages(val_x, val_y, self.mean, self.std),
            "test": test,
        }
        if self.hparams.on_device and self.trainer is not None:
            for split in {id(s): s for s in self.splits.values()}.values():  # each one once
                split.to(self.trainer.strategy.root_device)

    def eval_transform(self, images: torch.Tensor) -> torch.Tensor:
        """What every evaluation input goes through: uint8 (n, c, h, w) -> normalized float."""
        return normalize(images, self.mean, self.std)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        """Training batches only: random flip and translation, drawn from a generator seeded by
        (seed, epoch, step, rank), on the device the batch is on."""
        hp, trainer = self.hparams, self.trainer
        if trainer is None or not trainer.training or not (hp.flip or hp.translate):
            return batch
        # A new Trainer starts counting afresh. It is told apart by a token it carries, not by
        # id(): a Trainer freed after one fit may leave its address to the next one.
        token = vars(trainer).setdefault("_augmentation_token", object())
        run = (token, trainer.current_epoch)
        if self._augmented[:2] != run:
            self._augmented = (*run, 0)
        _, epoch, step = self._augmented
        self._augmented = (*run, step + 1)
        x, y = batch
        generator = torch.Generator(device=x.device)
        generator.manual_seed(derived_seed(hp.seed, epoch, step, trainer.global_rank))
        if hp.flip == "alternating":
            x = self._alternating_flip(x, epoch, step)
        elif hp.flip:
            x = random_flip(x, generator)
        return random_translate(x, hp.translate, generator), y

    def _alternating_flip(self, x: torch.Tensor, epoch: int, step: int) -> torch.Tensor:
        """Mirror the batch's images as ``alternating_flips`` says for ``epoch``. The batch holds
        training images ``step * batch_size`` onwards of this epoch's order (``EpochShuffle``, a
        function of (seed, epoch) alone), so the flips are put in that order once per epoch."""
        if self._flips[0] != epoch:
            n, seed = len(self.splits["train"]), self.hparams.seed
            order = EpochShuffle(n, seed, **world_of(self))
            order.set_epoch(epoch)
            flips = alternating_flips(n, seed, epoch)[list(order)]
            self._flips = (epoch, flips.to(x.device))  # this rank's flips, in batch order
        start = step * self.hparams.batch_size
        flips = self._flips[1][start : start + len(x)]
        if len(flips) != len(x):
            raise RuntimeError(
                f"alternating flips: step {step} of epoch {epoch} has {len(x)} images where this "
                f"DataModule's training order has {len(flips)}: train on its own train_dataloader"
            )
        return torch.where(flips.view(-1, 1, 1, 1), x.flip(-1), x)

    def training_images(self, n: int) -> torch.Tensor:
        """The first ``n`` training images in the eval transform (e.g. to fit a whitening layer)."""
        return self.eval_transform(self.splits["train"].images[:n])

    # -- loaders ------------------------------------------------------------------------------
    def _loader(self, split: str, train: bool = False):
        hp = self.hparams
        data = self.splits[split]
        on_host = data.images.device.type == "cpu"  # else already where the model is
        workers = hp.num_workers if on_host else 0
        return DataLoader(
            data,
            batch_size=hp.batch_size if train else hp.eval_batch_size,
            sampler=EpochShuffle(len(data), hp.seed, **world_of(self)) if train else None,
            drop_last=False,
            num_workers=workers,
            pin_memory=hp.pin_memory and on_host,
            collate_fn=_whole_batch,
            persistent_workers=workers > 0,
        )

    def train_dataloader(self):
        return self._loader("train", train=True)

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")

    def predict_dataloader(self):
        """Batches of ``predict_images`` (set it to a uint8 n x c x h x w tensor; default: the
        official test split), through the eval transform."""
        images = self.predict_images
        unlabeled = torch.zeros(len(images), dtype=torch.long)
        return DataLoader(
            BatchedImages(images, unlabeled, self.mean, self.std),
            batch_size=self.hparams.eval_batch_size,
            collate_fn=_whole_batch,
        )

    # -- the normalization constants travel in checkpoints -------------------------------------
    def state_dict(self):
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def load_state_dict(self, state_dict):
        self.mean = torch.tensor(state_dict["mean"])
        self.std = torch.tensor(state_dict["std"])
        for split in getattr(self, "splits", {}).values():
            device = split.images.device
            split.mean, split.std = self.mean.to(device), self.std.to(device)


class FashionMNISTDataModule(VisionDataModule):
    """Fashion-MNIST (Zalando, MIT licence): 60,000 train / 10,000 test, 1 x 28 x 28."""

    dataset_name = "FashionMNIST"
    folder = "FashionMNIST"
    image_shape = (1, 28, 28)
    classes = tuple(
        "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot".split(",")
    )

    @staticmethod
    def as_nchw(images: torch.Tensor) -> torch.Tensor:
        return images.unsqueeze(1)  # n x 28 x 28 -> n x 1 x 28 x 28


class CIFAR10DataModule(VisionDataModule):
    """CIFAR-10 (Krizhevsky, 2009): 50,000 train / 10,000 test, 3 x 32 x 32."""

    dataset_name = "CIFAR10"
    folder = "cifar-10-batches-py"
    image_shape = (3, 32, 32)
    classes = tuple("airplane automobile bird cat deer dog frog horse ship truck".split())

    @staticmethod
    def as_nchw(images: torch.Tensor) -> torch.Tensor:
        return images.permute(0, 3, 1, 2)  # n x 32 x 32 x 3 (HWC) -> n x 3 x 32 x 32


def image_datamodules() -> dict[str, type[VisionDataModule]]:
    """Every image DataModule defined so far, by the name a checkpoint stores its state under
    (Lightning's: the class's qualified name). A new subclass is found without being listed."""
    found, todo = {}, [VisionDataModule]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if all(sub.image_shape):
                found[sub.__qualname__] = sub
    return found

"""A new dataset, added the way README's "Where things go" says: a ``VisionDataModule``
subclass that declares its images and how to read them. Nothing in commands/ or the checkpoints
names it."""

import torch

from lightning_hw.datamodules import VisionDataModule


class ToyDataModule(VisionDataModule):
    """8 x 8 grey images of two kinds, generated: dark ones (0) and ones with a bright centre (1)."""

    image_shape = (1, 8, 8)
    classes = ("dark", "bright centre")

    def download(self) -> None:
        pass  # generated, nothing to fetch

    def load_split(self, train: bool):
        n = 96 if train else 40
        generator = torch.Generator().manual_seed(1 if train else 2)
        labels = torch.arange(n) % 2
        images = torch.randint(0, 60, (n, *self.image_shape), generator=generator)
        images[labels == 1, :, 2:6, 2:6] += 180
        return images.to(torch.uint8), labels.long()

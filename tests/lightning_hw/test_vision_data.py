"""Fashion-MNIST and CIFAR-10 DataModules on tiny fakes in the official formats, and on real data."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torchvision

from lightning_hw.datamodules import CIFAR10DataModule, DataMissingError, FashionMNISTDataModule
from lightning_hw.datamodules.vision import normalize, random_flip, random_translate
from tests.lightning_hw.fake_data import accept_fake_cifar, make_cifar, make_fashion


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    accept_fake_cifar(monkeypatch)
    return make_cifar(tmp_path)


def test_fashion_from_idx_files(tmp_path):
    dm = FashionMNISTDataModule(
        data_dir=str(make_fashion(tmp_path)), batch_size=32, eval_batch_size=16
    )
    dm.setup()
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (32, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.long
    assert len(dm.splits["train"]) == 120 and len(dm.splits["val"]) == 40
    xs = torch.cat([b[0] for b in dm.train_dataloader()])
    assert abs(xs.mean().item()) < 1e-4 and abs(xs.std().item() - 1) < 1e-2  # train statistics
    assert [len(b[0]) for b in dm.val_dataloader()] == [16, 16, 8]


def test_cifar_from_pickles_channel_order(fake_cifar):
    dm = CIFAR10DataModule(data_dir=str(fake_cifar))
    dm.setup()
    images, labels = dm.load_split(train=False)
    assert images.shape == (30, 3, 32, 32) and images.dtype == torch.uint8
    import pickle

    with open(fake_cifar / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = pickle.load(f)["data"]
    np.testing.assert_array_equal(images.numpy().reshape(30, -1), raw)  # channel-planar rows
    assert len(dm.splits["train"]) == 100


def test_holdout_split_is_seeded_and_disjoint(fake_cifar):
    a = CIFAR10DataModule(data_dir=str(fake_cifar), val_split=25, seed=1)
    b = CIFAR10DataModule(data_dir=str(fake_cifar), val_split=25, seed=1)
    a.setup(), b.setup()
    assert (
        len(a.splits["val"]) == 25 and len(a.splits["train"]) == 75 and len(a.splits["test"]) == 30
    )
    torch.testing.assert_close(a.splits["val"].images, b.splits["val"].images)
    train = {bytes(x.numpy()) for x in a.splits["train"].images}
    assert not any(bytes(x.numpy()) in train for x in a.splits["val"].images)


def test_augmentation_on_train_only(fake_cifar):
    dm = CIFAR10DataModule(data_dir=str(fake_cifar), flip=True, translate=2)
    dm.setup()
    x = dm.splits["test"].images[:4]
    expected = normalize(x, dm.mean, dm.std)
    got, _ = dm.splits["test"].__getitems__([0, 1, 2, 3])
    torch.testing.assert_close(got, expected)  # fetching never augments
    batch = dm.splits["train"].__getitems__(list(range(16)))
    dm.trainer = SimpleNamespace(training=False, current_epoch=0, global_rank=0)
    assert dm.on_after_batch_transfer(batch, 0) is batch  # validation, test, predict: as fetched
    dm.trainer.training = True
    assert not torch.equal(dm.on_after_batch_transfer(batch, 0)[0], batch[0])


def _augment(dm, batch, epoch, steps):
    """What the DataModule makes of ``batch`` as the ``steps``-th next step of ``epoch`` (one
    stand-in Trainer per DataModule: a new Trainer counts its steps afresh)."""
    if not getattr(dm.trainer, "training", False):
        dm.trainer = SimpleNamespace(training=True, global_rank=0, world_size=1)
    dm.trainer.current_epoch = epoch
    return [dm.on_after_batch_transfer(batch, 0)[0] for _ in range(steps)][-1]


def test_a_new_trainer_counts_its_steps_afresh(fake_cifar):
    """A second fit (another Trainer) on the same DataModule augments its first step as the
    first fit did, even where the first stopped in the middle of an epoch."""
    dm = CIFAR10DataModule(
        data_dir=str(fake_cifar), flip="alternating", translate=2, batch_size=16, seed=5
    )
    dm.setup()
    batch = dm.splits["train"].__getitems__(list(range(16)))
    first = _augment(dm, batch, 0, 1)
    assert not torch.equal(_augment(dm, batch, 0, 1), first)  # the next step draws anew
    dm.trainer = None
    torch.testing.assert_close(_augment(dm, batch, 0, 1), first, rtol=0, atol=0)


def test_a_trainer_at_a_freed_trainers_address_counts_afresh(fake_cifar):
    """Python may give a new Trainer the address (``id``) of one freed after an earlier fit: the
    new one still starts counting its steps from 0."""
    dm = CIFAR10DataModule(data_dir=str(fake_cifar), flip=True, translate=2, seed=5)
    dm.setup()
    batch = dm.splits["train"].__getitems__(list(range(16)))
    first = _augment(dm, batch, 0, 1)
    _augment(dm, batch, 0, 1)
    freed, dm.trainer, held = id(dm.trainer), None, []
    trainer = SimpleNamespace(training=True, global_rank=0, world_size=1)
    while id(trainer) != freed and len(held) < 10_000:
        held.append(trainer)  # held, so the next one is put somewhere else
        trainer = SimpleNamespace(training=True, global_rank=0, world_size=1)
    assert id(trainer) == freed, "no new object took the freed address; nothing was tested"
    dm.trainer, trainer.current_epoch = trainer, 0
    torch.testing.assert_close(dm.on_after_batch_transfer(batch, 0)[0], first, rtol=0, atol=0)


def test_augmentation_draws_from_seed_epoch_and_step_alone(fake_cifar):
    """A run resumed at epoch 1 augments its steps as an uninterrupted run does."""
    dm = CIFAR10DataModule(data_dir=str(fake_cifar), flip=True, translate=2, seed=5)
    dm.setup()
    batch = dm.splits["train"].__getitems__(list(range(16)))
    whole = [_augment(dm, batch, 0, 3), _augment(dm, batch, 1, 1), _augment(dm, batch, 1, 1)]
    resumed = CIFAR10DataModule(data_dir=str(fake_cifar), flip=True, translate=2, seed=5)
    resumed.setup()
    torch.testing.assert_close(_augment(resumed, batch, 1, 2), whole[2], rtol=0, atol=0)
    assert not torch.equal(whole[1], whole[2])  # each step draws anew
    assert not torch.equal(whole[0], whole[1])


def test_training_order_is_a_function_of_seed_and_epoch():
    from lightning_hw.datamodules.sampling import EpochShuffle

    a, b = EpochShuffle(50, seed=3), EpochShuffle(50, seed=3)
    a.set_epoch(4)
    b.set_epoch(4)
    order = list(a)
    assert order == list(b) and sorted(order) == list(range(50))
    b.set_epoch(5)
    assert list(b) != order and list(EpochShuffle(50, seed=4)) != list(EpochShuffle(50, seed=3))


def test_batched_augmentations():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    torch.manual_seed(0)
    flipped = random_flip(x)
    for i in range(2):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))
    shifted = random_translate(x, 1)
    assert shifted.shape == x.shape
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    for i in range(2):  # each image is some 4x4 window of its padded self
        assert any(
            torch.equal(shifted[i], padded[i, :, dy : dy + 4, dx : dx + 4])
            for dy in range(3)
            for dx in range(3)
        )


def test_missing_data_offline_is_one_clear_message(tmp_path, monkeypatch):
    """Missing files are downloaded into the data directory; offline, one clear message."""
    tried = []

    def no_network(url, download_root, *args, **kwargs):
        tried.append(str(download_root))
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", no_network)
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", no_network)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", no_network)
    for cls, folder in (
        (FashionMNISTDataModule, "FashionMNIST"),
        (CIFAR10DataModule, "cifar-10-batches-py"),
    ):
        dm = cls(data_dir=str(tmp_path / "empty"))
        with pytest.raises(DataMissingError, match=f"not found in .*empty.*{folder}.*DATA_DIR"):
            dm.setup()
        assert tried and tried[-1].startswith(str(tmp_path / "empty"))  # torchvision's download


def test_real_fashion_statistics(fashion_dir):
    dm = FashionMNISTDataModule(data_dir=str(fashion_dir))
    dm.setup()
    assert len(dm.splits["train"]) == 60000 and len(dm.splits["val"]) == 10000
    assert dm.mean.item() == pytest.approx(0.2860, abs=1e-4)
    assert dm.std.item() == pytest.approx(0.3530, abs=1e-4)


def test_real_cifar_statistics(cifar_dir):
    dm = CIFAR10DataModule(data_dir=str(cifar_dir))
    dm.setup()
    assert len(dm.splits["train"]) == 50000
    np.testing.assert_allclose(dm.mean.numpy(), [0.4914, 0.4822, 0.4465], atol=1e-4)
    np.testing.assert_allclose(dm.std.numpy(), [0.2470, 0.2435, 0.2616], atol=1e-4)


def test_channel_statistics_are_exact():
    from lightning_hw.datamodules.vision import channel_statistics

    x = torch.randint(0, 256, (200, 3, 9, 9), dtype=torch.uint8)
    mean, std = channel_statistics(x)
    reference = x.double() / 255
    torch.testing.assert_close(mean, reference.mean(dim=(0, 2, 3)).float(), rtol=0, atol=1e-7)
    torch.testing.assert_close(std, reference.std(dim=(0, 2, 3)).float(), rtol=0, atol=1e-7)
    torch.set_num_threads(1)  # what a DDP process runs with: bitwise the same
    try:
        single = channel_statistics(x)
    finally:
        torch.set_num_threads(2)
    assert torch.equal(single[0], mean) and torch.equal(single[1], std)


def _fake_trainer(device: str):
    return SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device(device)), world_size=1, global_rank=0
    )


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_dataset_lives_on_the_trainers_device(fake_cifar, device):
    """On a GPU the dataset moves there once (uint8) and batches are cut there: no per-step host
    copies. "meta" stands in for a device other than the host (same code path)."""
    dm = CIFAR10DataModule(data_dir=str(fake_cifar), batch_size=8, num_workers=2, pin_memory=True)
    dm.trainer = _fake_trainer(device)
    dm.setup("fit")
    assert dm.splits["val"] is dm.splits["test"]  # the shared split is held once
    for split in dm.splits.values():
        assert split.images.device.type == device and split.images.dtype == torch.uint8
        assert split.labels.device.type == device and split.mean.device.type == device
    loader = dm.train_dataloader()
    x, y = next(iter(loader))
    assert x.device.type == device and x.shape == (8, 3, 32, 32) and x.dtype == torch.float32
    assert y.device.type == device
    on_host = device == "cpu"  # workers and pinned memory only make sense for host tensors
    assert (loader.num_workers, loader.pin_memory) == ((2, True) if on_host else (0, False))
    dm.load_state_dict(dm.state_dict())  # checkpoint constants follow the data's device
    assert dm.splits["train"].mean.device.type == device


def test_on_device_false_keeps_the_data_on_the_host(fake_cifar):
    dm = CIFAR10DataModule(data_dir=str(fake_cifar), on_device=False)
    dm.trainer = _fake_trainer("meta")
    dm.setup("fit")
    assert {s.images.device.type for s in dm.splits.values()} == {"cpu"}


def test_alternating_flips_mirror_each_image_the_other_way_every_epoch():
    from lightning_hw.datamodules.vision import alternating_flips

    first = alternating_flips(1000, seed=3, epoch=0)
    assert 400 < int(first.sum()) < 600  # a random half
    assert torch.equal(alternating_flips(1000, seed=3, epoch=1), ~first)
    assert torch.equal(alternating_flips(1000, seed=3, epoch=4), first)
    assert not torch.equal(alternating_flips(1000, seed=4, epoch=0), first)


def test_alternating_flip_follows_each_image_through_the_training_order(fake_cifar):
    """Step s of epoch e holds images order[s * batch : (s + 1) * batch] of that epoch's order;
    each is mirrored as ``alternating_flips`` says for it, so across two epochs both ways."""
    from lightning_hw.datamodules.sampling import EpochShuffle
    from lightning_hw.datamodules.vision import alternating_flips

    dm = CIFAR10DataModule(data_dir=str(fake_cifar), flip="alternating", batch_size=16, seed=5)
    dm.setup()
    n = len(dm.splits["train"])
    seen = {}
    for epoch in (0, 1):
        order = EpochShuffle(n, seed=5)
        order.set_epoch(epoch)
        order = list(order)
        flips = alternating_flips(n, 5, epoch)
        for step in range(3):
            indices = order[step * 16 : (step + 1) * 16]
            batch = dm.splits["train"].__getitems__(indices)
            got = _augment(dm, batch, epoch, 1)  # the epoch's next step
            for row, i in enumerate(indices):
                plain = batch[0][row]
                expected = plain.flip(-1) if flips[i] else plain
                assert torch.equal(got[row], expected)
                seen.setdefault(i, set()).add(bool(flips[i]))
    both = [i for i, ways in seen.items() if len(ways) == 2]
    assert both  # images met in both epochs were met mirrored once and plain once
    assert all(seen[i] == {True, False} for i in both)


def test_an_unknown_flip_is_refused():
    with pytest.raises(ValueError, match="flip must be true, false or 'alternating'"):
        CIFAR10DataModule(flip="sometimes")


def test_prepare_data_reads_the_files_once(fashion_dir, monkeypatch):
    """train.py looks for the data before building the Trainer, and fit and test ask again:
    the DataModule checks the files the first time only."""
    dm = FashionMNISTDataModule(data_dir=str(fashion_dir))
    read = []
    real = dm._torchvision
    monkeypatch.setattr(dm, "_torchvision", lambda train: read.append(train) or real(train))
    for _ in range(3):
        dm.prepare_data()
    assert read == [True, False]

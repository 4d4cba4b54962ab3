"""lightning_hw.checkpoints: the one reader of checkpoints, its errors, the architecture checks,
the DataModule a checkpoint was trained on, and the weights-only copy."""

import io

import pytest
import torch

from lightning_hw import checkpoints
from lightning_hw.checkpoints import CheckpointError
from lightning_hw.classifier import Classifier
from lightning_hw.datamodules import FashionMNISTDataModule, VisionDataModule, image_datamodules
from lightning_hw.networks import MLP


def _classifier(hidden=(8,)):
    torch.manual_seed(0)
    return Classifier(MLP(in_features=784, hidden=hidden, num_classes=10))


def _save(path, model, **extra):
    """What Lightning writes, in the parts we read."""
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams), **extra}
    torch.save(ckpt, path)
    return path


def test_a_saved_classifier_comes_back_with_its_weights(tmp_path):
    model = _classifier()
    path = _save(tmp_path / "m.ckpt", model)
    again = checkpoints.load_classifier(path)
    assert not again.training
    x = torch.randn(3, 1, 28, 28)
    assert torch.equal(again(x), model.eval()(x))


def test_unreadable_or_foreign_files_are_one_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoints.read(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoints.read(tmp_path / "junk.ckpt")
    torch.save([1, 2], tmp_path / "list.ckpt")
    with pytest.raises(CheckpointError, match="not a Lightning checkpoint"):
        checkpoints.read(tmp_path / "list.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "bare.ckpt")
    with pytest.raises(CheckpointError, match="does not record its network"):
        checkpoints.load_classifier(tmp_path / "bare.ckpt")


def test_another_network_is_refused_by_class_and_by_shapes(tmp_path):
    path = _save(tmp_path / "m.ckpt", _classifier(hidden=(8,)))
    ckpt = checkpoints.read(path)
    checkpoints.check_network_class(path, ckpt, "lightning_hw.networks.mlp.MLP")  # same name
    with pytest.raises(CheckpointError, match="holds a lightning_hw.networks.mlp.MLP"):
        checkpoints.check_network_class(path, ckpt, "lightning_hw.networks.CifarCNN")
    checkpoints.check_architecture(path, ckpt, _classifier(hidden=(8,)))
    with pytest.raises(CheckpointError, match=r"holds MLP\(.*hidden=\(8,\).*config trains MLP"):
        checkpoints.check_architecture(path, ckpt, _classifier(hidden=(16,)))


def test_the_image_datamodule_is_found_by_the_name_it_saved_its_state_under(tmp_path):
    assert {"FashionMNISTDataModule", "CIFAR10DataModule"} <= set(image_datamodules())
    assert "VisionDataModule" not in image_datamodules()  # declares no image shape

    class Tiny(VisionDataModule):
        image_shape = (1, 4, 4)

    assert (
        image_datamodules()[
            "test_the_image_datamodule_is_found_by_the_name_it_saved_its_state_under.<locals>.Tiny"
        ]
        is Tiny
    )
    state = {"mean": [0.25], "std": [0.5]}
    path = _save(
        tmp_path / "m.ckpt",
        _classifier(),
        FashionMNISTDataModule=state,
        datamodule_hyper_parameters={"data_dir": "/somewhere", "eval_batch_size": 7},
    )
    dm = checkpoints.image_datamodule(path, checkpoints.read(path), data_dir=str(tmp_path))
    assert type(dm) is FashionMNISTDataModule and dm.image_shape == (1, 28, 28)
    assert dm.mean.tolist() == [0.25] and dm.std.tolist() == [0.5]
    assert dm.hparams.eval_batch_size == 7 and dm.data_dir == tmp_path
    iris = _save(tmp_path / "iris.ckpt", _classifier(), IrisDataModule={})
    with pytest.raises(CheckpointError, match="not trained on an image dataset"):
        checkpoints.image_datamodule(iris, checkpoints.read(iris))


def test_the_weights_only_copy_keeps_what_predicting_needs_and_no_local_path(tmp_path):
    model = _classifier()
    hparams = {"data_dir": "/home/me/data", "save_dir": "/home/me/logs", "batch_size": 32}
    path = _save(
        tmp_path / "m.ckpt",
        model,
        optimizer_states=[{}],
        loops={},
        callbacks={},
        lr_schedulers=[],
        datamodule_hyper_parameters=hparams,
        FashionMNISTDataModule={"mean": [0.1], "std": [0.2]},
    )
    kept = torch.load(io.BytesIO(checkpoints.weights_only(path)), weights_only=True)
    assert set(kept) == {
        "state_dict",
        "hyper_parameters",
        "datamodule_hyper_parameters",
        "FashionMNISTDataModule",
    }
    assert kept["datamodule_hyper_parameters"] == {
        "data_dir": None,
        "save_dir": "lightning_logs",
        "batch_size": 32,
    }
    assert all(torch.equal(kept["state_dict"][k], v) for k, v in model.state_dict().items())

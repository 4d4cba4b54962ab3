"""NeuralNetwork with image layers: built from a layer list, the train/test switch reaches every
layer, Fashion-MNIST is read from IDX files, and the CNN trains in numpy_nn's own loop."""

import subprocess
import sys

import numpy as np
import pytest

from numpy_nn.datasets import load_fashion_mnist
from numpy_nn.fashion_cnn import LAYERS, run
from numpy_nn.models import NeuralNetwork
from numpy_nn.normalization import BatchNorm2D
from numpy_nn.regularization import Dropout
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import make_fashion

SMALL = [
    {"name": "conv2d", "n_out": 4, "kernel_shape": 3, "activation": "relu"},
    {"name": "batchnorm2d"},
    {"name": "pool2d", "kernel_shape": 2, "stride": 2},
    {"name": "flatten"},
    {"name": "dropout", "p": 0.5},
    {"name": "fully_connected", "activation": "softmax"},
]


def test_the_mode_switch_reaches_every_layer():
    model = NeuralNetwork("cross_entropy", SMALL, {"name": "sgd", "lr": 0.1}, seed=0)
    model._initialize_layers(out_dim=3)
    X = np.random.default_rng(0).normal(size=(6, 8, 8, 1))
    Y = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    model.set_mode("test")
    assert not any(layer.training for layer in model.layers)
    model.set_mode("train")
    train_out = model.forward(X)
    bn = next(layer for layer in model.layers if isinstance(layer, BatchNorm2D))
    running = bn.cache["running_mu"].copy()
    out, _ = model.predict(X, Y)  # evaluation: running statistics, no dropout, nothing updated
    np.testing.assert_array_equal(bn.cache["running_mu"], running)
    assert all(layer.training for layer in model.layers)  # predict restored the mode
    assert not np.allclose(out, train_out)
    again, _ = model.predict(X, Y)
    np.testing.assert_array_equal(out, again)  # deterministic when evaluating
    assert any(isinstance(layer, Dropout) for layer in model.layers)


def test_fashion_from_idx_files_as_nhwc(tmp_path):
    data = load_fashion_mnist(str(make_fashion(tmp_path)), batch_size=16, val=20)
    assert data.train.data.shape == (100, 28, 28, 1) and data.train.data.dtype == np.float32
    assert data.validate.data.shape == (20, 28, 28, 1) and data.test.data.shape == (40, 28, 28, 1)
    assert data.out_dim == 10 and data.n_features == 784


def test_missing_files_are_one_line(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "train_cnn.py"), "--data-dir", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: FashionMNIST not found in") and "DATA_DIR" in out.stderr
    assert not list(tmp_path.iterdir())


def test_train_cnn_briefly_on_fake_data(tmp_path):
    r = run(
        epochs=2,
        data_dir=str(make_fashion(tmp_path / "data", n_train=5100)),
        save_dir=str(tmp_path / "runs"),
        progress=False,
    )
    assert r["test_accuracy"] >= 0.9  # fake classes are bright bands: easy
    assert {"loss.png", "error.png", "results.json", "parameters.npz"} <= {
        p.name for p in (tmp_path / "runs" / "fashion_cnn").iterdir()
    }


def test_limit_trains_on_the_first_images_only(tmp_path, monkeypatch):
    seen = []
    train = NeuralNetwork.train

    def recording(model, dataset, epochs, progress=False):
        seen.append((len(dataset.train), dataset.train.samples_per_epoch))
        return train(model, dataset, epochs, progress)

    monkeypatch.setattr(NeuralNetwork, "train", recording)
    r = run(
        epochs=1,
        batch_size=16,
        limit=40,
        data_dir=str(make_fashion(tmp_path / "data", n_train=5100)),
        save_dir=str(tmp_path / "runs"),
        progress=False,
    )
    assert seen == [(40, 3)] and r["options"]["limit"] == 40


@pytest.mark.slow
def test_numpy_cnn_reaches_90_on_fashion_mnist(fashion_dir, tmp_path):
    r = run(data_dir=str(fashion_dir), save_dir=str(tmp_path), progress=False)
    print(f"numpy_nn CNN: test accuracy {r['test_accuracy']:.4f}, {r['train_seconds']:.0f} s")
    assert r["test_accuracy"] >= 0.90
    assert [layer["name"] for layer in LAYERS][:2] == ["conv2d", "pool2d"]

"""Logger writes hyperparameters, curves, parameters and plots."""

import json

import numpy as np

from numpy_nn.logs import Logger


def test_logger_saves_everything(tmp_path):
    log = Logger("run", {"lr": 0.1}, {"name": "iris"}, save=True, plot=True, save_dir=str(tmp_path))
    for i in range(3):
        log.push(
            {
                "loss": {"train": 1.0 / (i + 1), "validate": 1.2 / (i + 1)},
                "error": {"train": 0.5, "validate": 0.4},
            }
        )
    log.end({"W0": np.ones((2, 2))})
    log.save_results({"test_error": 0.1})
    d = tmp_path / "run"
    assert json.loads((d / "hyperparameters.json").read_text())["model_args"] == {"lr": 0.1}
    assert json.loads((d / "log.json").read_text())["error"]["validate"][2] == 0.4
    assert np.load(d / "parameters.npz")["W0"].shape == (2, 2)
    assert (d / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (d / "error.png").stat().st_size > 1000
    assert not list(d.glob(".tmp-*"))

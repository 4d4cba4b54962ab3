"""What train.py sets before numpy and torch load (commands/train.py, ``prepare_environment``):
numpy-backed runs get BLAS on one core and passive OpenMP waiting; torch runs keep BLAS's
threads; a value the user set wins; numpy is not loaded before the settings are made."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMES = ("OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OMP_NUM_THREADS")

CHILD = """
import json, os, sys
from commands.configs import Experiment
from commands.train import prepare_environment
experiment = Experiment.from_argv(["--config", sys.argv[1]])
loaded_before = "numpy" in sys.modules
prepare_environment(numpy_backed=experiment.backend == "numpy")
from numpy_nn import threads
print(json.dumps([loaded_before, os.environ.get("OPENBLAS_NUM_THREADS"),
                  os.environ.get("OMP_WAIT_POLICY"), threads.BLAS_ONE_CORE]))
"""


def _child(config: str, **env) -> list:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, config],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "config, env, expected",
    [
        ("configs/cifar_cnn_numpy.yaml", {}, [False, "1", "PASSIVE", True]),
        ("configs/iris_numpy.yaml", {}, [False, "1", "PASSIVE", True]),
        ("configs/iris_torch.yaml", {}, [False, None, None, False]),
        (
            "configs/iris_numpy.yaml",
            {"OPENBLAS_NUM_THREADS": "2"},
            [False, "2", "PASSIVE", False],
        ),
    ],
)
def test_numpy_backed_runs_get_blas_on_one_core(config, env, expected):
    assert _child(config, **env) == expected

"""train_ffnn.py: a run, the sweep, and clear errors for bad options."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def _run(*args, cwd):
    return subprocess.run(
        [sys.executable, str(ROOT / "train_ffnn.py"), "--no-progress", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_default_run_saves_results(tmp_path):
    out = _run("--save-dir", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    for key in ("train_error", "val_error", "test_error"):
        assert results[key] <= 0.1, key  # at most 3 of the course's 30 test flowers wrong
    for key in ("train_loss", "val_loss", "test_loss"):
        assert 0 < results[key] < 0.3, key  # the course's split: its test flowers are harder
    assert results["options"]["hidden"] == 25
    assert {"loss.png", "error.png", "parameters.npz", "hyperparameters.json"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert "test" in out.stdout


def test_sweep_writes_table_and_plot(tmp_path):
    out = _run("--sweep", "--epochs", "5", "--save-dir", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    table = (tmp_path / "sweep" / "results.md").read_text()
    assert table.count("\n| 0.") == 9 and "Best by validation error" in table
    assert (tmp_path / "sweep" / "loss.png").stat().st_size > 1000
    assert "best by validation error" in out.stdout


def test_the_command_line_runs_the_handout_scripts_train(tmp_path):
    """train_ffnn.py's handout steps are the one Iris run: its command line and ``train`` called
    as a function (by compare, the sweep and the benchmarks) give the same numbers."""
    from numpy_nn.experiment import DEFAULTS
    from train_ffnn import train as run

    out = _run("--epochs", "20", "--save-dir", str(tmp_path / "script"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "script").iterdir()
    script = json.loads((run_dir / "results.json").read_text())
    library = run(DEFAULTS.__class__(epochs=20), save_dir=str(tmp_path / "library"))
    numbers = ("train_loss", "val_loss", "test_loss", "train_error", "val_error", "test_error")
    assert {k: script[k] for k in numbers} == {k: library[k] for k in numbers}
    assert script["curves"] == json.loads(json.dumps(library["curves"]))
    hyper = json.loads((run_dir / "hyperparameters.json").read_text())
    assert hyper["model_args"]["optimizer_args"]["lr_scheduler"] == "constant"
    assert hyper["model_args"]["layer_args"][1]["n_out"] is None  # the handout's AttrDicts

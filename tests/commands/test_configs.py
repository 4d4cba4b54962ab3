"""Experiment configs: fragments load first and the experiment overrides them; every experiment
resolves; twins differ only where they say they do."""

from pathlib import Path

import pytest

from commands.cli import resolve_config
from commands.configs import ConfigError, Experiment, backend_of, expand, fragments
from tests.conftest import ROOT

EXPERIMENTS = sorted(
    p for p in (ROOT / "configs").glob("*.yaml") if not p.stem.endswith("_compare")
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_fragments_come_first_depth_first(tmp_path):
    _write(tmp_path / "trainer/a.yaml", "trainer: {max_epochs: 1}\n")
    _write(tmp_path / "base.yaml", "defaults: [trainer/a.yaml]\nseed_everything: 3\n")
    exp = _write(tmp_path / "exp.yaml", "defaults: [base.yaml]\ntrainer: {max_epochs: 2}\n")
    assert fragments(exp) == [tmp_path / "trainer/a.yaml", tmp_path / "base.yaml"]
    argv = expand(["--config", str(exp), "--trainer.max_epochs", "4"])
    assert argv == [
        "--config",
        str(tmp_path / "trainer/a.yaml"),
        "--config",
        str(tmp_path / "base.yaml"),
        "--config",
        str(exp),
        "--defaults",
        "[]",
        "--trainer.max_epochs",
        "4",
    ]
    experiment = Experiment.from_argv(["--config", str(exp), "--trainer.max_epochs", "4"])
    assert experiment.name == "exp" and list(experiment.args) == argv


def test_a_config_without_defaults_passes_unchanged(tmp_path):
    plain = _write(tmp_path / "plain.yaml", "trainer: {max_epochs: 1}\n")
    assert expand([f"--config={plain}"]) == ["--config", str(plain)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("defaults: [nowhere.yaml]\n", "names the fragment nowhere.yaml"),
        ("defaults: [exp.yaml]\n", "includes itself"),
        ("defaults: logger.yaml\n", "defaults must be a list"),
        ("model: [\n  oops", "line 2 is not valid YAML"),
        ("- a\n- b\n", "not a mapping"),
    ],
)
def test_broken_composition_is_named(tmp_path, text, message):
    exp = _write(tmp_path / "exp.yaml", text)
    with pytest.raises(ConfigError, match=message):
        expand(["--config", str(exp)])


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_resolves(path):
    config = resolve_config(str(path))
    assert config["trainer"]["logger"]["class_path"] == "lightning_hw.board.TensorBoard"
    assert config["trainer"]["max_epochs"] >= 1
    assert config["model"]["network"]["class_path"].startswith("lightning_hw.networks.")


def _flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        elif k != "config":  # the files it came from
            out[f"{prefix}{k}"] = v
    return out


def _difference(a: str, b: str) -> dict:
    x, y = (_flatten(resolve_config(str(ROOT / "configs" / n))) for n in (a, b))
    return {k: (x.get(k), y.get(k)) for k in x.keys() | y.keys() if x.get(k) != y.get(k)}


def test_twins_differ_only_where_they_say():
    assert _difference("iris_numpy.yaml", "iris_torch.yaml") == {
        "model.network.init_args.backend": ("numpy", "torch")
    }
    assert _difference("cifar_cnn.yaml", "cifar_cnn94.yaml") == {"trainer.max_epochs": (8, 16)}


def test_only_the_twins_fix_float32():
    """README: the twins (numpy_nn has no bf16) set 32-true; every other experiment, the
    Fashion MLP included, leaves ``precision: auto`` to pick bf16 where it is native."""
    fixed = {
        p.stem for p in EXPERIMENTS if resolve_config(str(p))["trainer"]["precision"] != "auto"
    }
    assert fixed == {"iris_numpy", "iris_torch", "fashion_cnn_numpy", "fashion_cnn_torch"}
    assert all(
        resolve_config(str(ROOT / "configs" / f"{n}.yaml"))["trainer"]["precision"] == "32-true"
        for n in fixed
    )


def test_the_backend_is_read_before_torch_loads():
    """train.py picks OpenMP's passive waiting for numpy-backed runs only (commands/train.py);
    the experiment's backend is what the resolved config says."""

    def backend(*argv):
        return Experiment.from_argv(list(argv)).backend

    numpy_run = ["--config", str(ROOT / "configs/iris_numpy.yaml")]
    torch_run = ["--config", str(ROOT / "configs/iris_torch.yaml")]
    assert backend(*numpy_run) == "numpy"
    assert backend(*torch_run) == "torch"  # its fragment says numpy; the file wins
    assert backend(*torch_run, "--model.network.init_args.backend=numpy") == "numpy"
    assert backend(*torch_run, "--model.network.init_args.backend", "numpy") == "numpy"
    assert backend("--config", str(ROOT / "configs/fashion_mlp.yaml")) is None
    for name in ("iris_numpy", "iris_torch", "fashion_cnn_numpy", "fashion_mlp"):
        argv = ["--config", str(ROOT / f"configs/{name}.yaml")]
        assert backend(*argv) == backend_of(resolve_config(*argv[1:])), name


def test_val_split_takes_a_number_on_the_command_line():
    """README: val_split 5000 holds out 5,000 training images; the command line reads it as a
    number, as the YAML form does (it was read as the string '5000' and refused)."""
    config = resolve_config(
        str(ROOT / "configs/fashion_mlp.yaml"), "--data.init_args.val_split", "5000"
    )
    assert config["data"]["init_args"]["val_split"] == 5000
    assert (
        resolve_config(str(ROOT / "configs/fashion_mlp.yaml"))["data"]["init_args"]["val_split"]
        == "test"
    )

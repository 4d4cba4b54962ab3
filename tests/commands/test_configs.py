"""Experiment configs: fragments load first and the experiment overrides them; every experiment
resolves; twins differ only where they say they do."""

from pathlib import Path

import pytest

from commands.cli import resolve_config
from commands.configs import ConfigError, Experiment, backend_of, fragments, merge
from tests.conftest import ROOT

EXPERIMENTS = sorted(
    p for p in (ROOT / "configs").glob("*.yaml") if not p.stem.endswith("_compare")
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_fragments_come_first_depth_first(tmp_path):
    _write(tmp_path / "trainer/a.yaml", "trainer: {max_epochs: 1, fast_dev_run: true}\n")
    _write(tmp_path / "base.yaml", "defaults: [trainer/a.yaml]\nseed_everything: 3\n")
    exp = _write(tmp_path / "exp.yaml", "defaults: [base.yaml]\ntrainer: {max_epochs: 2}\n")
    assert fragments(exp) == [tmp_path / "trainer/a.yaml", tmp_path / "base.yaml"]
    experiment = Experiment.from_argv(["--config", str(exp), "--trainer.max_epochs", "4"])
    assert experiment.name == "exp"
    assert experiment.files == (tmp_path / "trainer/a.yaml", tmp_path / "base.yaml", exp)
    assert experiment.config == {
        "trainer": {"max_epochs": 2, "fast_dev_run": True},
        "seed_everything": 3,
    }
    assert experiment.overrides == ("--trainer.max_epochs", "4")  # LightningCLI parses these


def test_a_later_file_overrides_key_by_key_and_a_new_class_replaces_the_old():
    base = {"model": {"optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 1}}}}
    same = {"model": {"optimizer": {"init_args": {"momentum": 0.9}}}}
    other = {"model": {"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"eps": 1}}}}
    assert merge(base, same)["model"]["optimizer"]["init_args"] == {"lr": 1, "momentum": 0.9}
    assert merge(base, other) == other  # SGD's settings are not Adam's
    assert merge({"a": [1, 2], "b": 1}, {"a": [3]}) == {"a": [3], "b": 1}  # lists are replaced


def test_a_run_parses_each_config_file_once(tmp_path, monkeypatch):
    """One reading of the files, at the entry, passed down to LightningCLI: in a whole run
    (parse, fit, test, the saved config), YAML parses each experiment file's text once."""
    import yaml

    from commands.train import main

    argv = ["--config", str(ROOT / "configs/iris_torch.yaml"), "--trainer.max_epochs", "1"]
    argv += ["--trainer.logger.init_args.save_dir", str(tmp_path)]
    files = Experiment.from_argv(argv).files
    assert len(files) == 6  # iris_torch.yaml, iris_numpy.yaml and the latter's four fragments
    parsed, real_load = [], yaml.load

    def load(stream, *args, **kwargs):
        parsed.append(stream if isinstance(stream, str) else stream.read())
        return real_load(parsed[-1], *args, **kwargs)

    monkeypatch.setattr(yaml, "load", load)
    assert main([*argv, "--trainer.enable_progress_bar", "false"]) == 0
    assert [parsed.count(path.read_text()) for path in files] == [1] * len(files)


def test_a_config_without_defaults_reads_alone(tmp_path):
    plain = _write(tmp_path / "plain.yaml", "trainer: {max_epochs: 1}\n")
    experiment = Experiment.from_argv([f"--config={plain}"])
    assert experiment.files == (plain,) and experiment.config == {"trainer": {"max_epochs": 1}}


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
        Experiment.from_argv(["--config", str(exp)])


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

"""Loading never runs code from a file: networks only from lightning_hw.*, checkpoints with
weights_only, configs with YAML's safe loader."""

import pytest
import torch

from lightning_hw.checkpoints import CheckpointError, load_classifier
from lightning_hw.networks import build_network
from plumbing.settings import ConfigError, read


def test_only_our_network_classes_are_rebuilt():
    with pytest.raises(ValueError, match="only classes under lightning_hw"):
        build_network({"class_path": "subprocess.Popen", "init_args": {"args": ["true"]}})
    assert type(build_network({"class_path": "lightning_hw.networks.MLP"})).__name__ == "MLP"


class Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_a_checkpoint_with_pickled_objects_is_refused(tmp_path, capsys):
    torch.save({"state_dict": {}, "hyper_parameters": {"x": Payload()}}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="not a readable checkpoint .UnpicklingError.") as e:
        load_classifier(str(tmp_path / "evil.ckpt"))
    assert "Weights only load failed" in str(e.value.__context__)  # torch's weights_only refusal
    assert "this ran" not in capsys.readouterr().out


def test_configs_are_read_with_the_safe_loader(tmp_path):
    (tmp_path / "evil.yaml").write_text("model: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read(tmp_path / "evil.yaml")

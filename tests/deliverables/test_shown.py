"""deliverables/shown.yaml, the one list of the experiments the report and hw3.zip show."""

import pytest

from deliverables.shown import shown
from plumbing.settings import ConfigError
from tests.conftest import ROOT


def test_every_shown_experiment_has_its_config():
    entries = shown()
    assert [e.question for e in entries] == ["4.1", "4.2"]
    assert sum(e.predictions for e in entries) == 1
    for entry in entries:
        assert (ROOT / entry.config).is_file(), entry.config
        if entry.ablation:
            assert (ROOT / "docs" / entry.ablation).is_file(), entry.ablation


def test_a_malformed_entry_is_a_config_error(tmp_path):
    (tmp_path / "s.yaml").write_text("a: {title: A, question: 1}\n")
    with pytest.raises(ConfigError, match="needs title, question and experiments"):
        shown(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("a: {title: A, question: 1, experiments: [x]}\n")
    with pytest.raises(ConfigError, match="exactly one entry must say predictions: true"):
        shown(tmp_path / "s.yaml")


def test_what_a_run_trained_is_said_from_what_it_did():
    from deliverables.shown import trained

    whole = {"val/acc": [0.5] * 8, "batches": [49] * 8, "epoch_batches": 49}
    assert trained(whole) == "8 epochs"
    cut = {"val/acc": [0.5], "batches": [10], "epoch_batches": 49}  # limit_train_batches 10
    assert (
        trained(cut) == "1 epoch of 10 of the 49 batches of the training set (limit_train_batches)"
    )
    assert trained({"val/acc": [0.5, 0.6]}) == "2 epochs"  # a run from before batches were kept

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
    (tmp_path / "s.yaml").write_text("a: {question: '4.1'}\n")
    with pytest.raises(
        ConfigError, match="needs a question of deliverables/questions.yaml and its experiments"
    ):
        shown(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("a: {question: '9.9', experiments: [x]}\n")  # no such question
    with pytest.raises(ConfigError, match="needs a question"):
        shown(tmp_path / "s.yaml")
    (tmp_path / "s.yaml").write_text("a: {question: '4.1', experiments: [x]}\n")
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


def test_one_table_of_questions_is_what_every_deliverable_reads():
    from deliverables import appendix, report
    from deliverables.questions import questions

    table = questions()
    assert [q.number for q in table] == ["3.1", "3.2", "3.3", "3.4", "3.5", "4.1", "4.2"]
    assert [a for a, _ in appendix.APPENDIX[: len(table)]] == [q.heading for q in table]
    assert [d[0] for d in report.DERIVED] == ["3.1", "3.2", "3.3", "3.4"]
    assert {e.question: e.title for e in shown()} == {
        q.number: q.title for q in table if q.number in ("4.1", "4.2")
    }
    assert [q.number for q in table if q.answer] == ["3.5", "4.1", "4.2"]  # answers.md's sections

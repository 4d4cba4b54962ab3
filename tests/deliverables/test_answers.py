"""deliverables/answers.py: written answers from the measurements, kept in the student's file."""

from deliverables import answers
from tests.conftest import ROOT


def _run(lr, hidden, best_val, val_loss, test):
    opts = {"lr": lr, "hidden": hidden}
    return {"options": opts, "best_val_error": best_val, "val_loss": val_loss, "test_error": test}


SWEEP = {
    "runs": [
        _run(0.001, 5, 0.2, 0.9, 0.30),
        _run(0.001, 50, 0.1, 0.8, 0.20),
        _run(0.1, 5, 0.0, 0.10, 0.0667),
        _run(0.1, 50, 0.0, 0.05, 0.0667),
    ]
}


def test_the_sweep_comment_states_the_effects_and_the_tie_break():
    text = answers.sweep_answer(SWEEP)
    assert "0.250 (lr 0.001), 0.067 (lr 0.1)" in text  # mean test error per learning rate
    assert "lowered it from 0.250 to 0.067" in text and "had not converged" in text
    assert "0.183 (5 hidden units), 0.133 (50 hidden units)" in text
    assert "2 of the 4 settings tie at the lowest validation error (0.000)" in text
    assert "picks lr 0.1 with 50 hidden units" in text  # the lower final validation loss
    assert "one misclassified flower" in text and "test split played no part" in text
    # the split's own size, even when no run missed exactly one flower (0.067 is two of 30)
    assert "(30 flowers): an error of 0.033 is one misclassified flower" in text


def test_the_cnn_design_quotes_the_ablation_and_its_noise():
    path = ROOT / "docs" / "cifar_ablation.md"
    rows, how = answers.ablation(path)
    assert rows["baseline (configs/cifar_cnn.yaml)"][0] > 0.5 and "seeds" in how
    config = {
        "model": {
            "network": {"init_args": {"widths": [64, 256, 256]}},
            "label_smoothing": 0.2,
            "norm_lr_scale": 64.0,
            "optimizer": {
                "class_path": "torch.optim.SGD",
                "init_args": {"lr": 1.5, "momentum": 0.85, "nesterov": True},
            },
        },
        "data": {"init_args": {"batch_size": 1024, "flip": "alternating", "translate": 2}},
    }
    history = {"val/acc": [0.5, 0.9], "train/acc": [0.4, 0.8]}
    text = answers.cnn_answer(config, {"test/acc": 0.937, "test/loss": 0.3}, history, path)
    assert "[@airbench]" in text and "patch whitening" in text
    assert (
        "In the project's recorded ablation, removing it lowered the test accuracy by 1.73 points"
        in text
    )  # the whitening row
    assert (
        "not from this run: they are the project's recorded ablation (`docs/cifar_ablation.md`"
        in text
    )
    assert "within the seed-to-seed spread" in text  # label smoothing's -0.01
    assert "2 epochs with SGD" in text and "**93.70%**" in text
    assert not any(word in text for word in ("H200", "GPU", "2026", "AVX"))  # no lab notebook


def test_the_file_is_the_students(tmp_path):
    path = tmp_path / "answers.md"
    generated = {"3.5": ("Sweep", "d1", "First text."), "4.1": ("MLP", "d2", "MLP text.")}
    shown, notes, text = answers.sync(path, generated)
    assert shown == {"3.5": "First text.", "4.1": "MLP text."} and "wrote 2 answer(s)" in notes[0]
    path.write_text(text.replace("First text.", "My own words."))
    shown, notes, text = answers.sync(path, generated)
    assert shown["3.5"] == "My own words." and text is None  # kept as it is
    assert notes == [answers.UNCHANGED.format(path=path, question="4.1")]  # 4.1: not yet rewritten
    # new measurements: the student's text stays, with a note; a deleted section comes back
    path.write_text(path.read_text().split("## 4.1")[0])
    changed = {"3.5": ("Sweep", "d9", "Second text."), "4.1": ("MLP", "d2", "MLP text.")}
    shown, notes, text = answers.sync(path, changed)
    assert shown == {"3.5": "My own words.", "4.1": "MLP text."}
    assert "3.5 was written from other measurements" in notes[0] and "## 4.1 MLP" in text


def test_a_generated_section_left_as_written_is_named_after_the_measurements_change(tmp_path):
    """A draft's answers, never edited, then the final runs: the text is no longer today's
    generated text, but it is still the generated text of then, and is named."""
    path = tmp_path / "answers.md"
    _, _, text = answers.sync(path, {"4.2": ("CNN", "d1", "One epoch: 53%.")})
    path.write_text(text)
    _, notes, _ = answers.sync(path, {"4.2": ("CNN", "f2", "Eight epochs: 93.5%.")})
    assert notes == [
        f"{path} 4.2 was written from other measurements than the current ones: check its "
        "numbers, or delete the section to have it written again",
        answers.UNCHANGED.format(path=path, question="4.2"),
    ]
    path.write_text(path.read_text().replace("One epoch: 53%.", "My CNN, in my words."))
    _, notes, _ = answers.sync(path, {"4.2": ("CNN", "f2", "Eight epochs: 93.5%.")})
    assert len(notes) == 1 and "other measurements" in notes[0]  # edited: no longer named

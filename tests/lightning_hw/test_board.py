"""lightning_hw/board.py: TensorBoard's Scalars tab in reading order, test metrics where the run
ends, and a note in the Text tab when a run was interrupted (tests/commands/test_reliability.py)."""

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lightning_hw.board import TensorBoard, tag


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def run_notes(run: Path) -> list[str]:
    """The run's lines in TensorBoard's Text tab (``TensorBoard.note``), oldest first."""
    found = []
    for events in sorted(Path(run).glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"tensors": 0})
        acc.Reload()
        if "run/text_summary" in acc.Tags()["tensors"]:
            found += [
                e.tensor_proto.string_val[0].decode() for e in acc.Tensors("run/text_summary")
            ]
    return found


@pytest.mark.parametrize(
    "name, shown",
    [
        ("lr", "z_lr/all"),
        ("lr/weights", "z_lr/weights"),
        ("lr/normalization", "z_lr/normalization"),
        ("lr-SGD", "z_lr/all"),
        ("train/loss", "train/loss"),
        ("test/acc", "test/acc"),
    ],
)
def test_learning_rates_are_grouped_after_train_val_and_test(name, shown):
    assert tag(name) == shown
    groups = sorted(
        {tag(n).split("/")[0] for n in ("lr/weights", "train/loss", "val/loss", "test/acc")}
    )
    assert groups[-1] == "z_lr"  # TensorBoard orders its groups alphabetically


def test_test_metrics_are_written_at_the_last_step_and_epoch_is_left_out(tmp_path):
    board = TensorBoard(str(tmp_path), name="exp", version="v")
    board.log_metrics({"train/loss": 1.0, "epoch": 0}, step=10)
    board.log_metrics({"val/loss": 2.0, "epoch": 1}, step=20)
    board.log_metrics({"test/acc": 0.9}, step=0)  # as trainer.test and log_hyperparams do
    board.note("**interrupted** after 1 finished epoch", step=20)
    board.finalize("success")
    found = scalars(tmp_path / "exp" / "v")
    assert set(found) == {"train/loss", "val/loss", "test/acc"}
    assert found["test/acc"] == [(20, pytest.approx(0.9))]
    assert run_notes(tmp_path / "exp" / "v") == ["**interrupted** after 1 finished epoch"]

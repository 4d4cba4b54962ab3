"""TensorBoard as a reader opens it: ``train/``, ``val/`` and ``test/`` first, then the learning
rate of each parameter group, the test metrics where the run ended, and a note when it stopped.

Lightning's ``TensorBoardLogger`` with three changes to what it writes:

- ``epoch`` (Lightning's own tag at every logged step) is left out: the x axis is the step, and
  ``metrics.json`` keeps the epochs;
- ``LearningRateMonitor``'s tags (``lr``, ``lr/weights``, ``lr/normalization``: named in
  ``Classifier.configure_optimizers``; ``lr-SGD`` for a config without a schedule) move to the
  group ``z_lr/``, which TensorBoard's alphabetical groups show after ``train``, ``val`` and
  ``test``;
- test metrics (``trainer.test`` logs them at step 0, and ``log_hyperparams`` again at 0) are
  written at the last training step, beside the curves they end.

``note`` writes a text summary (TensorBoard's Text tab) at the current step: ``CurvesCallback``
marks an interrupted run with it.
"""

from pytorch_lightning.loggers import TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only

LR_GROUP = "z_lr"  # after test/, train/, val/ in TensorBoard's alphabetical order


def tag(name: str) -> str:
    """The tag a metric is written under (see the module's docstring)."""
    if name == "lr" or name.startswith(("lr/", "lr-")):
        return LR_GROUP + "/" + (name.partition("/")[2] or "all")
    return name


class TensorBoard(TensorBoardLogger):
    """``TensorBoardLogger`` writing the tags in reading order (the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_step = 0  # the newest step of a training or validation metric

    @rank_zero_only
    def log_metrics(self, metrics, step=None):
        metrics = {tag(k): v for k, v in metrics.items() if k != "epoch"}
        if any(k.startswith("test/") for k in metrics):
            step = self.last_step
        elif step is not None:
            self.last_step = max(self.last_step, step)
        if metrics:
            super().log_metrics(metrics, step)

    @rank_zero_only
    def note(self, text: str, step: int) -> None:
        """A line in TensorBoard's Text tab (tag ``run``) at ``step``."""
        self.experiment.add_text("run", text, global_step=step)
        self.experiment.flush()

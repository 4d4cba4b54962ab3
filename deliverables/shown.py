"""What the deliverables show, and the words they share: the report and hw3.zip both read
``deliverables/shown.yaml`` (which experiments, under which title and question) and say what
the curves are measured on in the same sentences."""

from dataclasses import dataclass
from pathlib import Path

from commands.configs import ConfigError, read
from commands.entry import UserError
from lightning_hw import runs

SHOWN = Path(__file__).with_name("shown.yaml")

TEST_SPLIT = (
    "The curves called *test* are the official test split, evaluated after every epoch (the "
    "configs validate on it, as the assignment does; no checkpoint is chosen by it: the final "
    "weights are tested)."
)
PLAIN_LOSS = (
    "Both loss curves are plain cross-entropy, also where training minimizes a label-smoothed loss."
)


@dataclass(frozen=True)
class Shown:
    """One entry of ``deliverables/shown.yaml``."""

    key: str
    title: str
    question: str
    experiments: tuple[str, ...]
    design: str | None = None  # a page of docs/ whose network and ablation follow the results
    predictions: bool = False  # hw3/predictions.csv comes from this run

    @property
    def config(self) -> str:
        """The config that trains it (the first experiment's), relative to the repository."""
        return f"configs/{self.experiments[0]}.yaml"

    def latest_run(self, logs: Path, accept_short: bool = False) -> Path | None:
        """The newest finished run (None if there is none). One that stopped before a full
        epoch of training and validation (``lightning_hw.runs.is_short``) is a UserError unless
        ``accept_short``."""
        run = runs.latest_finished(logs, self.experiments)
        if run is not None and not accept_short and runs.is_short(run):
            raise UserError(
                f"{run} stopped before one full epoch of training and validation: train it "
                f"longer (python train.py --config {self.config}), or pass --accept-short to "
                "show it as it is"
            )
        return run


def shown(path: Path = SHOWN) -> list[Shown]:
    """The entries of ``deliverables/shown.yaml``, in order."""
    try:
        entries = [
            Shown(
                key,
                e["title"],
                str(e["question"]),
                tuple(e["experiments"]),
                e.get("design"),
                bool(e.get("predictions", False)),
            )  # fmt: skip
            for key, e in read(path).items()
        ]
    except (KeyError, TypeError) as e:
        raise ConfigError(
            f"{path}: each entry needs title, question and experiments ({e})"
        ) from None
    if sum(s.predictions for s in entries) != 1:
        raise ConfigError(f"{path}: exactly one entry must say predictions: true")
    return entries

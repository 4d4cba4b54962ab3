"""What the deliverables show, and the words they share: the report and hw3.zip both read
``deliverables/shown.yaml`` (which experiments, under which title and question, the homework's
minimum epochs), say what the curves are measured on in the same sentences, and call the numpy
package by the handout's name."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from commands.configs import run_config
from commands.entry import UserError
from deliverables.questions import questions
from lightning_hw import runs
from plumbing.settings import ConfigError, read

SHOWN = Path(__file__).with_name("shown.yaml")
ROOT = Path(__file__).resolve().parents[1]  # the repository
BRIEF_EPOCHS = 1  # a draft's brief run (``package --train-briefly``, ``handin --draft``)

TEST_SPLIT = (
    "The curves called *test* are the official test split, evaluated after every epoch (the "
    "configs validate on it, as the assignment does; no checkpoint is chosen by it: the final "
    "weights are tested)."
)
PLAIN_LOSS = (
    "Both loss curves are plain cross-entropy, also where training minimizes a label-smoothed loss."
)


def trained(h: dict) -> str:
    """What a run trained, from its ``metrics.json``: "8 epochs", or "1 epoch of 10 of the 49
    batches of the training set (limit_train_batches)" where its epochs were cut short."""
    n = runs.trained_epochs(h)
    said = f"{n} epoch{'s' * (n != 1)}"
    steps, full = h.get("batches") or [], h.get("epoch_batches")
    steps = steps[:n]  # the epochs that were validated too
    if full and steps and max(steps) < full:
        each = f"{steps[0]}" if len(set(steps)) == 1 else f"{min(steps)}-{max(steps)}"
        said += f" of {each} of the {full} batches of the training set (limit_train_batches)"
    return said


def resolved_config(run: Path) -> str:
    """A run's saved config without this machine's paths: what hw3/runs/ ships and the
    appendix shows."""
    from lightning_hw.checkpoints import without_local_paths  # torch: only when a run is shown

    config = without_local_paths(run_config(run))
    return yaml.safe_dump(config, sort_keys=False)


@dataclass(frozen=True)
class Shown:
    """One entry of ``deliverables/shown.yaml``."""

    key: str
    title: str
    question: str
    experiments: tuple[str, ...]
    ablation: str | None = None  # a page of docs/ whose measured ablation follows the answer
    predictions: bool = False  # hw3/predictions.csv comes from this run
    min_epochs: int = 1  # the homework's minimum; a shorter run is "brief"

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

    def train_argv(self, logs: Path, data_dir=None, brief=False, resume=False) -> list[str]:
        """``train.py``'s arguments that train it under ``logs``: the config's full run, or
        (``brief``, a draft) one epoch of it, or (``resume``) the interrupted run continued."""
        argv = ["--config", str(ROOT / self.config)]
        argv += ["--trainer.max_epochs", str(BRIEF_EPOCHS)] if brief else []
        argv += ["--ckpt_path", "last"] if resume else []
        argv += ["--trainer.logger.init_args.save_dir", str(logs)]
        return argv + (["--data.init_args.data_dir", str(data_dir)] if data_dir else [])

    def command(self, brief=False, resume=False) -> str:
        """What a person types to train it, as ``train_argv`` does."""
        extra = f" --trainer.max_epochs {BRIEF_EPOCHS}" if brief else ""
        extra += " --ckpt_path last" if resume else ""
        return f"python train.py --config {self.config}{extra}"

    def resumable(self, logs: Path) -> bool:
        """Is the newest run an interrupted one with a last checkpoint (newer than any finished
        run)? Then ``--ckpt_path last`` continues it."""
        last = runs.newest_last_checkpoint(logs, self.experiments[0])
        if last is None or runs.is_finished(last.parent.parent):
            return False
        done = runs.latest_finished(logs, self.experiments)
        return done is None or done.stat().st_mtime < last.parent.parent.stat().st_mtime

    def brief(self, run: Path) -> str | None:
        """None for a run of at least ``min_epochs``; else the line that flags it."""
        n = runs.epochs(run)
        if n >= self.min_epochs:
            return None
        return (
            f"a brief run: {n} epoch{'s' * (n != 1)} of the {self.min_epochs} the homework asks "
            f"for, not a result to hand in (train it: python train.py --config {self.config})"
        )

    def check_full(self, run: Path, draft: bool) -> str | None:
        """The brief-run flag (a draft shows it), or a UserError for a final hand-in."""
        flag = self.brief(run)
        if flag and not draft:
            raise UserError(
                f"{self.title}: {run} is {flag.replace(' (train it: ', '; train the full run: ')}"
                "), or pass --draft to build a draft"
            )
        return flag


def shown(path: Path | None = None) -> list[Shown]:
    """The entries of ``deliverables/shown.yaml`` (or ``path``), in order, each titled as its
    question is in ``deliverables/questions.yaml``."""
    path = path or SHOWN
    titles = {q.number: q.title for q in questions()}
    try:
        entries = [
            Shown(
                key,
                titles[str(e["question"])],
                str(e["question"]),
                tuple(e["experiments"]),
                e.get("ablation"),
                bool(e.get("predictions", False)),
                int(e.get("min_epochs", 1)),
            )
            for key, e in read(path).items()
        ]
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(
            f"{path}: each entry needs a question of deliverables/questions.yaml and its "
            f"experiments ({e})"
        ) from None
    if sum(s.predictions for s in entries) != 1:
        raise ConfigError(f"{path}: exactly one entry must say predictions: true")
    return entries

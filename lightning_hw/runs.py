"""Where a Lightning run lives: the one home of the run-folder layout.

    <logs>/<experiment>/version_N/         one run (the TensorBoard logger's folder; logs is
        config.yaml  metrics.json  ...     lightning_logs unless the config says otherwise)
        test_metrics.json                  written last: its presence marks a finished run
        checkpoints/last.ckpt              saved every epoch (resume from it)
        checkpoints/best-epochNNN.ckpt     the best by the monitored metric

Everything that looks for runs or checkpoints (``train.py --ckpt_path last``, ``predict.py``'s
messages, the report, hw3.zip, the benchmarks) asks this module.
"""

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

VERSION = "version_"
CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"
FINISHED = "test_metrics.json"
LAYOUT = f"lightning_logs/<experiment>/{VERSION}N/"  # for messages and docs
LAST_CHECKPOINT = f"{LAYOUT}{CHECKPOINTS}/{LAST}"


def runs(logs: str | Path, experiment: str) -> list[Path]:
    """Every run folder of ``experiment`` under ``logs``, oldest first (by modification time)."""
    folders = (Path(logs) / experiment).glob(f"{VERSION}*")
    return sorted((d for d in folders if d.is_dir()), key=lambda d: d.stat().st_mtime)


def is_finished(run: Path) -> bool:
    """Did the run get as far as its test (curves and test metrics written)?"""
    return (run / FINISHED).exists() and (run / "metrics.json").exists()


def is_short(run: Path) -> bool:
    """Did the run stop before one full epoch of training and validation (``max_epochs 0``,
    ``max_steps`` inside an epoch, ``limit_val_batches 0``, a signal)? Its curves cannot be
    drawn as a run's; ``metrics.json`` says ``"short": true`` (older runs: judged by the curves)."""
    h = json.loads((run / "metrics.json").read_text())
    train, val = h.get("train/loss") or [], h.get("val/loss") or []
    every_epoch = "val_epochs" not in h  # older runs validated after every epoch
    mismatch = every_epoch and len(val) != len(train)
    return bool(h.get("short") or h.get("interrupted") or not train or not val or mismatch)


def val_epochs(history: dict) -> list[int]:
    """The epochs (from 1) after which a run validated, one per ``val/*`` entry of its
    ``metrics.json`` history: every epoch unless ``check_val_every_n_epoch`` > 1 (recorded as
    ``val_epochs``; histories from before it was recorded validated after every epoch)."""
    recorded = history.get("val_epochs")
    if recorded:
        return list(recorded)
    return list(range(1, max(len(history.get(k) or []) for k in ("val/loss", "val/acc")) + 1))


def trained_epochs(history: dict) -> int:
    """How many epochs a run trained up to its last validation (its curves' extent)."""
    done = val_epochs(history)
    trained = max(len(history.get(k) or []) for k in ("train/loss", "train/acc"))
    last = done[-1] if done else 0
    return min(trained, last) if trained else last  # no training curve kept: its validations


def epochs(run: Path) -> int:
    """``trained_epochs`` of a run's folder."""
    return trained_epochs(json.loads((run / "metrics.json").read_text()))


def latest_finished(logs: str | Path, experiments: Iterable[str]) -> Path | None:
    """The newest finished run of any of ``experiments`` (exact names), or None."""
    done = [r for name in experiments for r in runs(logs, name) if is_finished(r)]
    return max(done, key=lambda d: d.stat().st_mtime) if done else None


def claim_version(logs: str | Path, experiment: str) -> Path:
    """Create the next free ``version_N`` folder of ``experiment`` and return it. ``mkdir`` is
    atomic: when another run takes a number first, this one tries the next, so runs started at
    the same moment get distinct folders."""
    home = Path(logs) / experiment
    home.mkdir(parents=True, exist_ok=True)
    numbers = [d.name[len(VERSION) :] for d in home.glob(f"{VERSION}*")]
    n = max((int(x) for x in numbers if x.isdigit()), default=-1) + 1
    while True:
        try:
            (home / f"{VERSION}{n}").mkdir()
            return home / f"{VERSION}{n}"
        except FileExistsError:
            n += 1


def only_run(logs: str | Path, experiment: str) -> Path:
    """The one run of ``experiment`` in a fresh ``logs`` folder (a benchmark's own run)."""
    (run,) = runs(logs, experiment)
    return run


def last_checkpoint(run: Path) -> Path:
    """Where ``run`` keeps its last checkpoint (it may not exist yet)."""
    return run / CHECKPOINTS / LAST


def checkpoints(run: Path) -> list[Path]:
    return sorted((run / CHECKPOINTS).glob("*.ckpt"))


def newest_last_checkpoint(logs: str | Path, experiment: str) -> Path | None:
    """The newest ``last.ckpt`` of ``experiment``: what ``--ckpt_path last`` resumes."""
    found = [last_checkpoint(r) for r in runs(logs, experiment) if last_checkpoint(r).is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def run_of(checkpoint: str | Path, logs: str | Path, experiment: str) -> str | None:
    """The version folder's name (``version_N``) when ``checkpoint`` belongs to a run of
    ``experiment`` under ``logs``, else None."""
    run = Path(checkpoint).resolve().parent.parent
    home = (Path(logs) / experiment).resolve()
    return run.name if run.name.startswith(VERSION) and run.parent == home else None


SMALL = 2**20  # files a refused resume may rewrite (config.yaml, hparams.yaml): kept to restore


def snapshot(run: Path) -> dict[Path, tuple[float, bytes | None]]:
    """Every file and folder in ``run`` now: its modification time, and a small file's bytes
    (to undo what a refused resume did to the run)."""
    return {
        p: (
            p.stat().st_mtime,
            p.read_bytes() if p.is_file() and p.stat().st_size <= SMALL else None,
        )
        for p in run.rglob("*")
    }


def restore(run: Path, before: dict[Path, tuple[float, bytes | None]]) -> None:
    """A resumed run refused before it saved a checkpoint: put ``run`` back as ``snapshot``
    found it (remove what was added, such as a new event file; rewrite the small files it
    changed, such as config.yaml). Once a checkpoint is new, the run has progressed: it stays."""
    if any(before.get(c, (None,))[0] != c.stat().st_mtime for c in checkpoints(run)):
        return
    for path in sorted(set(run.rglob("*")) - set(before), key=lambda p: -len(p.parts)):
        if path.is_file():
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for path, (mtime, data) in before.items():
        if data is not None and path.is_file() and path.stat().st_mtime != mtime:
            path.write_bytes(data)
            os.utime(path, (mtime, mtime))


def remove_unfinished(run: Path) -> None:
    """A run refused by a user error leaves nothing behind, unless it saved a checkpoint: its
    folder goes, and so do the experiment's and the logs' folders when that left them empty."""
    if run.is_dir() and not checkpoints(run):
        shutil.rmtree(run)
        for folder in (run.parent, run.parent.parent):  # <experiment>/, <logs>/
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

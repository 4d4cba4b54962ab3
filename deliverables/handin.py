"""The whole hand-in, in order, skipping what is already done: ``make handin``.

    python -m deliverables.handin [--draft] [--data_dir DIR] [--student student.yaml]

Steps: the default Iris run and the lr x hidden sweep (``train_ffnn.py``), the Iris comparison
(an extra), each shown experiment's full run (``train.py --config ...``: the Fashion-MNIST MLP
and the CIFAR-10 CNN), the report with its PDF, and hw3.zip. A step whose result exists is
skipped (a run counts when it is finished and, unless ``--draft``, at least the homework's
minimum of epochs); the report and the archive are always rebuilt, so they show the latest runs
and answers. Each step prints one progress line, and its time when done; the total comes last.

The name for the cover page and Chromium for the PDF are checked before anything runs, so a
missing one costs seconds, not the training. ``--draft``: no name needed, each missing Lightning
run trained briefly (one epoch, said in its progress line) and flagged in the report and the
archive, no PDF when Chromium is missing; a later final ``make handin`` trains the full runs.
Stopped by Ctrl-C or SIGTERM, a step says it was interrupted: the same command continues
(finished steps are skipped, an interrupted training run resumes from its last epoch).
"""

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from commands import compare, ffnn
from commands import train as train_command
from commands.configs import Experiment
from commands.entry import UserError, argument_parser, run_main
from deliverables import package, report
from deliverables.shown import BRIEF_EPOCHS, ROOT, Shown, shown
from lightning_hw import runs
from numpy_nn.experiment import DEFAULTS


@dataclass
class Step:
    title: str
    command: str  # what it runs, as a person would type it
    done: Callable[[], bool]  # its result is already there
    run: Callable[[], int]  # an exit status
    note: str = ""  # said when it runs


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _shown_step(entry: Shown, args) -> Step:
    """Train a shown experiment: a draft trains briefly what is missing (and says so); a final
    hand-in trains the full run, or continues an interrupted one from its last checkpoint."""
    logs = Path(args.logs)
    brief = args.draft
    resume = not brief and entry.resumable(logs)
    note = (
        f"a draft trains {BRIEF_EPOCHS} epoch only; a final make handin trains the full run"
        if brief
        else "continuing the interrupted run from its last epoch"
        if resume
        else ""
    )

    def done() -> bool:
        run = runs.latest_finished(logs, entry.experiments)
        return run is not None and (args.draft or entry.brief(run) is None)

    def train() -> int:
        # A Lightning run is its config file and overrides: the command line the step prints
        argv = entry.train_argv(logs, args.data_dir, brief=brief, resume=resume)
        return run_main(lambda: train_command.train(Experiment.from_argv(argv)))

    return Step(entry.title, entry.command(brief, resume), done, train, note)


def steps(args) -> list[Step]:
    """The hand-in's steps, in order."""
    experiments, logs = Path(args.experiments), Path(args.logs)

    def compare_iris() -> int:
        train_command.prepare_environment(numpy_backed=True)  # as `train.py compare` does
        return compare.run(
            str(ROOT / "configs/iris_compare.yaml"), output_dir=str(logs / "iris_compare")
        )

    found = [
        Step(
            "Iris, the default network",
            "python train_ffnn.py",
            lambda: (experiments / DEFAULTS.run_name / "results.json").exists(),
            lambda: ffnn.run(DEFAULTS, str(experiments), progress=True),
        ),
        Step(
            "Iris, the lr x hidden sweep",
            "python train_ffnn.py --sweep",
            lambda: (experiments / "sweep" / "results.json").exists(),
            lambda: ffnn.run(DEFAULTS, str(experiments), sweep_all=True, progress=True),
        ),
        Step(
            "Iris, three ways (an extra)",
            "python train.py compare --config configs/iris_compare.yaml",
            lambda: (logs / "iris_compare" / "comparison.md").exists(),
            compare_iris,
        ),
    ]
    return found + [_shown_step(entry, args) for entry in shown()] + _deliverables(args)


def _deliverables(args) -> list[Step]:
    """The report (with its PDF where Chromium is) and hw3.zip: always rebuilt."""
    pdf, draft = report.find_browser() is not None, args.draft

    def make_report() -> int:
        folders = (args.report, args.experiments, args.logs, report.DOCS)
        return report.make(
            *map(Path, folders),
            pdf=pdf,
            who=report.student_of(args),
            draft=draft,
            answers=Path(args.answers),
            student_file=args.student,
        )

    def make_zip() -> int:
        return package.make(Path(args.output), Path(args.logs), data_dir=args.data_dir, draft=draft)

    flags = " ".join(["--pdf"] * pdf + ["--draft"] * draft)
    return [
        Step(
            "the report",
            f"python -m deliverables.report {flags}".strip(),
            lambda: False,
            lambda: run_main(make_report),
        ),
        Step(
            "hw3.zip",
            f"python -m deliverables.package {'--draft' * draft}".strip(),
            lambda: False,
            lambda: run_main(make_zip),
        ),
    ]


def preflight(args) -> None:
    """What would stop the hand-in at its end, checked at its start."""
    report.student_of(args)  # a name, unless --draft
    if not args.draft and report.find_browser() is None:
        raise UserError(
            "the hand-in needs Chromium to print report.pdf: sudo apt-get install chromium "
            "fonts-dejavu-extra (or pass --draft to build without the PDF)"
        )


INTERRUPTED = (128 + signal.SIGINT, 128 + signal.SIGTERM)  # 130, 143: stopped by a signal


def _interrupt(signum, frame):
    """SIGTERM stops a step as Ctrl-C would; inside ``trainer.fit`` Lightning calls this after
    its own handler, which stops the run at the end of a step and saves it to resume from."""
    if signal.getsignal(signal.SIGTERM) is _interrupt:
        raise KeyboardInterrupt


def _run(step: Step) -> int:
    """One step's exit status; a signal that stops it gives 130 or 143."""
    try:
        return step.run()
    except KeyboardInterrupt:
        return INTERRUPTED[0]


def hand_in(args) -> int:
    preflight(args)
    train_command.prepare_environment(numpy_backed=False)  # Lightning's notices stay out
    todo = steps(args)
    signal.signal(signal.SIGTERM, _interrupt)
    start = time.perf_counter()
    for i, step in enumerate(todo, start=1):
        head = f"[{i}/{len(todo)}] {step.title}"
        if step.done():
            print(f"{head}: done already, skipped ({step.command})", flush=True)
            continue
        note = f" ({step.note})" if step.note else ""
        print(f"{head}: {step.command} ...{note}", flush=True)
        began = time.perf_counter()
        status = _run(step)
        if status in INTERRUPTED:
            again = "make handin" + (" ARGS=--draft" if args.draft else "")
            print(
                f"{head}: interrupted; run {again} again to continue (finished steps are "
                "skipped, an interrupted training run continues from its last epoch)",
                file=sys.stderr,
            )
            return status
        if status != 0:
            print(f"{head}: failed (exit status {status}); fix it and run again", file=sys.stderr)
            return status
        print(f"{head}: done in {_minutes(time.perf_counter() - began)}", flush=True)
    pdf = Path(args.report) / "report.pdf"
    made = f"{pdf if pdf.exists() else Path(args.report) / 'report.html'} and {args.output}"
    kind = "draft " if args.draft else ""
    print(f"{kind}hand-in ready in {_minutes(time.perf_counter() - start)}: {made}")
    return 0


def build_parser():
    p = argument_parser("python -m deliverables.handin", __doc__)
    report.add_student_arguments(p)
    p.add_argument("--data_dir", default=None, help="datasets (default: $DATA_DIR, else data/)")
    p.add_argument("--experiments", default="experiments", help="numpy runs (default experiments/)")
    p.add_argument(
        "--logs", default="lightning_logs", help="Lightning runs (default lightning_logs/)"
    )
    p.add_argument(
        "--answers", default="answers.md", help="your written answers (default answers.md)"
    )
    p.add_argument("--report", default="report", help="the report's folder (default report/)")
    p.add_argument("--output", default="hw3.zip", help="the archive (default hw3.zip)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: hand_in(args))


if __name__ == "__main__":
    sys.exit(main())

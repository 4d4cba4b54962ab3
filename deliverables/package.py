"""Build the course's submission archive, hw3.zip: it stands alone.

    python -m deliverables.package --output hw3.zip [--input test.npy] [--data_dir DIR]
                                   [--draft] [--train-briefly] [--max-checkpoint-mb 10]

Unzipped, ``hw3/`` holds everything needed to reproduce the results, run from that folder:

    hw3/README                 set-up and every command
    hw3/requirements.txt       the pinned packages
    hw3/CS189_HW_NN.ipynb      the completed notebook, executed at build time from the staged hw3/
                               folder with the project repository blocked from import
    hw3/predictions.csv        CIFAR-10 predictions of the shipped CIFAR run
                               (on --input, the course's test .npy; else the official test split)
    hw3/neural_networks/       numpy_nn under the handout's name (every import renamed)
    hw3/datasets/iris/         the course's Iris split, where the handout's datasets.py reads it
    hw3/train_ffnn.py          the Iris trainer; hw3/train_cnn.py, numpy_nn's CNN on Fashion-MNIST
    hw3/lightning_hw/          the PyTorch Lightning code (DataModules, networks, the Classifier, bridge)
    hw3/commands/              what train.py and predict.py run
    hw3/configs/               one YAML per experiment
    hw3/train.py, predict.py   the Lightning entry points
    hw3/runs/<experiment>/     the runs the notebook shows: config.yaml, metrics.json,
                               test_metrics.json, curves, confusion matrix, misclassified images,
                               and model.ckpt (weights and normalization, no optimizer state) when
                               it is under --max-checkpoint-mb; else the notebook and README say
                               how to make it

A run shorter than the homework's minimum (``min_epochs`` in deliverables/shown.yaml: 8 epochs)
is refused, with the command that trains the full run; ``--draft`` ships it, flagged in the
notebook and README. ``--train-briefly`` (a draft) first trains 1-epoch Fashion-MNIST and
CIFAR-10 runs when none exist, from ``--data_dir``. No __pycache__, .DS_Store, data, or path of the build machine goes into the archive.
"""

import importlib.metadata
import json
import re
import stat
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

from commands.cli import train
from commands.entry import UserError, argument_parser, run_main
from commands.predict import run as predict
from commands.train import prepare_environment
from deliverables.shown import PLAIN_LOSS, ROOT, TEST_SPLIT, Shown, resolved_config, shown
from lightning_hw import runs
from lightning_hw.checkpoints import weights_only
from plumbing.files import atomic_path, output_file
from plumbing.handout import course_suite, handout_names

EXCLUDE = re.compile(r"(__pycache__|\.DS_Store|\.pyc$|\.ckpt$|\.npz$|(^|/)data/)")
CODE = (
    "numpy_nn",
    "lightning_hw",
    "commands",
    "plumbing",
    "configs",
)  # folders shipped with their files
SCRIPTS = ("train_ffnn.py", "train_cnn.py", "train.py", "predict.py")
NOTEBOOKS = ROOT / "deliverables" / "notebooks"
GRADIENT_NOTEBOOK = NOTEBOOKS / "check_gradients.ipynb"  # shipped as it is, executed
COURSE_NOTEBOOK = NOTEBOOKS / "CS189_HW_NN.ipynb"  # its runs and shared prose filled in
RUN_FILES = (
    "config.yaml",
    "metrics.json",
    "test_metrics.json",
    "confusion_matrix.json",
    "loss.png",
    "accuracy.png",
    "confusion_matrix.png",
    "misclassified.png",
)

README = """\
Neural networks homework: how to reproduce every result
=========================================================

Everything runs from this folder (hw3/), with Python 3.10+ on Linux, macOS or Windows:

  python -m venv .venv && . .venv/bin/activate     (Windows: .venv\\Scripts\\activate)
  pip install -r requirements.txt                  (torch, Lightning, numpy, ...; a few GB)

Datasets: Fashion-MNIST and CIFAR-10 are downloaded into data/ on first use (or set DATA_DIR
to a folder that holds torchvision's files).

The numpy network (neural_networks/: plain numpy, every gradient derived by hand, the
handout's API: its scripts, notebook and tests run on it unchanged)
  python train_ffnn.py                  Iris, the handout's script -> experiments/<run>/loss.png, error.png
  python train_ffnn.py --sweep          lr x hidden sweep -> experiments/sweep/results.md, loss.png
  jupyter notebook check_gradients.ipynb   utils.check_gradients of every activation, layer and loss
  python -m unittest discover -s tests  the course-format tests (fixtures computed by PyTorch)
  python -m neural_networks.gradcheck   the same gradient checks as one table
  python train_cnn.py                   a small CNN on Fashion-MNIST in neural_networks' own loop

PyTorch Lightning (lightning_hw/, commands/, configs/)
{training}
  python train.py compare --config configs/iris_compare.yaml   Iris: numpy layers inside torch vs torch
  python predict.py --ckpt runs/{predicted}/model.ckpt --output predictions.csv [--input test.npy]
  tensorboard --logdir lightning_logs                  curves, learning rate, confusion matrices

Each run directory holds its config, metrics.json (per-epoch curves), test_metrics.json,
loss.png, accuracy.png, confusion_matrix.png, misclassified.png and its checkpoints.
{test_split}

CS189_HW_NN.ipynb (jupyter notebook CS189_HW_NN.ipynb, from this folder) shows the training code
and the runs in runs/: curves, test accuracies, confusion matrices, misclassified images.
HW3_MODE=short retrains both networks for two steps (a check that the code runs; needs the
datasets), HW3_MODE=full retrains them with their configs (Fashion MLP ~1.5 min, CIFAR CNN ~6 min
on 2 CPU cores); the default, archive, shows the shipped runs.
{checkpoints}
predictions.csv: test predictions (Id,Category) of runs/{predicted}/.
"""

# Run Python on this folder's code only: drop the project's editable install (its import hooks)
# and any path entry holding the project repository, then check that it is gone.
ISOLATION = """\
import importlib.util, os, sys
def _editable(hook):
    return (getattr(hook, "__module__", None) or "").startswith("__editable__")
sys.meta_path[:] = [f for f in sys.meta_path if not _editable(f)]
sys.path_hooks[:] = [h for h in sys.path_hooks if not _editable(h)]
sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or ".", "deliverables"))]
sys.path_importer_cache.clear()
for name in ("numpy_nn", "deliverables"):
    if importlib.util.find_spec(name) is not None:
        raise SystemExit(f"isolation failed: {name} (the project repository) is importable")
"""


def course_notebook(experiments: dict[str, str], min_epochs: dict[str, int] | None = None):
    """CS189_HW_NN.ipynb for the runs under ``runs/<experiment>`` ({title: experiment}; a run
    shorter than ``min_epochs[title]`` is flagged), with the prose it shares with the report and
    the README."""
    import nbformat

    nb = nbformat.read(COURSE_NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("{test_split}", TEST_SPLIT)
            cell.source = cell.source.replace("{plain_loss}", PLAIN_LOSS)
        elif "EXPERIMENTS = {}" in cell.source:
            cell.source = re.sub(
                r"EXPERIMENTS = \{\}.*", f"EXPERIMENTS = {experiments!r}", cell.source
            )
            cell.source = re.sub(
                r"MIN_EPOCHS = \{\}.*", f"MIN_EPOCHS = {min_epochs or {}!r}", cell.source
            )
    return nb


def execute_notebook(nb, cwd: Path, env: dict | None = None, timeout: int = 900):
    """Execute ``nb`` in ``cwd`` in a kernel that cannot import the project repository (only the
    code in ``cwd``); ``env`` adds environment variables (e.g. HW3_MODE, DATA_DIR)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    launch = ISOLATION + "from ipykernel import kernelapp\nkernelapp.launch_new_instance()\n"
    with tempfile.TemporaryDirectory() as specs:
        spec = Path(specs) / "hw3"
        spec.mkdir()
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    # errors only: its notices (TCP on localhost, the parent gone at shutdown)
                    # are not the student's concern
                    "argv": [
                        sys.executable,
                        "-c",
                        launch,
                        "-f",
                        "{connection_file}",
                        "--IPKernelApp.log_level=ERROR",
                    ],
                    "display_name": "hw3 (this folder's code only)",
                    "language": "python",
                    "env": {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
                }
            )
        )
        km = KernelManager(
            kernel_name="hw3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[specs])
        )
        NotebookClient(
            nb, km=km, timeout=timeout, resources={"metadata": {"path": str(cwd)}}
        ).execute()
    return nb


def _train_briefly(logs: Path, entries: list[Shown], data_dir=None) -> None:
    """A brief run of each shown experiment that has no finished run under ``logs``."""
    quiet = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
    for entry in entries:
        if entry.latest_run(logs, accept_short=True) is None:
            train([*entry.train_argv(logs, data_dir, brief=True), *quiet])


def code_members() -> dict[str, bytes]:
    """The project's code under hw3/, ``numpy_nn`` renamed ``neural_networks`` everywhere."""
    members = {}
    for folder in CODE:
        for path in sorted((ROOT / folder).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if not path.is_file() or EXCLUDE.search(rel):
                continue
            data = path.read_bytes()
            if path.suffix in (".py", ".yaml"):
                data = handout_names(data.decode()).encode()
            members[f"hw3/{handout_names(rel)}"] = data
    for script in SCRIPTS:
        members[f"hw3/{script}"] = handout_names((ROOT / script).read_text()).encode()
    members["hw3/requirements.txt"] = ("\n".join(requirements()) + "\n").encode()
    for path in sorted((ROOT / "numpy_nn" / "iris").glob("*.npy")):  # where the handout reads them
        members[f"hw3/datasets/iris/{path.name}"] = path.read_bytes()
    members.update(suite_members())
    return members


def requirements() -> list[str]:
    """hw3/requirements.txt: the pinned packages, and Jupyter for the README's notebooks."""
    wanted = []
    for r in importlib.metadata.requires("nn-hw"):
        name, _, marker = r.partition(";")
        if not marker or 'extra == "notebook"' in marker:
            wanted.append(name.strip())
    return wanted


def suite_members() -> dict[str, bytes]:
    """The conformance suite as ``hw3/tests/`` (``plumbing.handout.course_suite``)."""
    return {f"hw3/{name}": data for name, data in course_suite(ROOT).items()}


def run_members(run: Path, max_checkpoint_mb: float) -> tuple[dict[str, bytes], bool]:
    """``hw3/runs/<experiment>/``: what the notebook shows, and the checkpoint when it is small.
    Returns (members, whether model.ckpt is among them)."""
    folder = f"hw3/runs/{run.parent.name}"
    members = {f"{folder}/{n}": (run / n).read_bytes() for n in RUN_FILES if (run / n).exists()}
    members[f"{folder}/config.yaml"] = resolved_config(run).encode()
    model = weights_only(runs.last_checkpoint(run))
    small = len(model) <= max_checkpoint_mb * 2**20
    if small:
        members[f"{folder}/model.ckpt"] = model
    return members, small


def shown_runs(
    logs: Path, entries: list[Shown], accept_short: bool = False, draft: bool = False
) -> dict[Shown, Path]:
    """The run each shown experiment ships, or a UserError naming the command that makes it
    (a run shorter than one full epoch is refused unless ``accept_short``; one shorter than
    the homework's minimum unless ``draft``)."""
    found = {entry: entry.latest_run(logs, accept_short or draft) for entry in entries}
    for entry, run in found.items():
        if run is None or not runs.last_checkpoint(run).exists():
            raise UserError(
                f"no finished {entry.title} run with a checkpoint under {logs}: run "
                f"`python train.py --config {entry.config}` (or pass --train-briefly)"
            )
        entry.check_full(run, draft)
    return found


def readme(found: dict[Shown, Path], left_out: list[str], max_checkpoint_mb: float) -> bytes:
    """hw3/README: set-up and every command, for the runs that ship."""
    training = "\n".join(
        f"  python train.py --config {e.config:<30} {e.title:<18} -> "
        + runs.LAYOUT.replace("<experiment>", e.experiments[0])
        for e in found
    )
    note = (
        "\nThe checkpoints of "
        + ", ".join(f"runs/{e}" for e in left_out)
        + f" are over {max_checkpoint_mb:g} MB and not in the archive: train.py makes them "
        f"({runs.LAST_CHECKPOINT}).\n"
        if left_out
        else "\nruns/*/model.ckpt: the trained weights (no optimizer state), loadable with "
        "lightning_hw.checkpoints.load_classifier and predict.py.\n"
    )
    predicted = next(run for e, run in found.items() if e.predictions).parent.name
    prose = textwrap.fill(f"{TEST_SPLIT} {PLAIN_LOSS}".replace("*", '"'), width=96)
    text = README.format(training=training, checkpoints=note, predicted=predicted, test_split=prose)
    return text.encode()


def staged_members(members: dict, found: dict[Shown, Path], input_npy, data_dir) -> dict:
    """What must be computed from the staged hw3/ folder: predictions.csv and both notebooks,
    executed in a kernel that sees only that folder."""
    import nbformat

    predicted = next(run for e, run in found.items() if e.predictions)
    experiments = {e.title: run.parent.name for e, run in found.items()}
    min_epochs = {e.title: e.min_epochs for e in found}
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "predictions.csv"
        predict(str(runs.last_checkpoint(predicted)), input_npy, str(csv), data_dir)
        out["hw3/predictions.csv"] = csv.read_bytes()
        stage = tmp / "staged"
        for name, data in members.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        notebook = course_notebook(experiments, min_epochs)
        nb = execute_notebook(notebook, stage / "hw3", {"HW3_MODE": "archive"})
        out["hw3/CS189_HW_NN.ipynb"] = nbformat.writes(nb).encode()
        checks = execute_notebook(nbformat.read(GRADIENT_NOTEBOOK, as_version=4), stage / "hw3")
        out["hw3/check_gradients.ipynb"] = nbformat.writes(checks).encode()
        refuse_local_paths(out, tmp)
    return out


def refuse_local_paths(members: dict[str, bytes], *paths: Path) -> None:
    """No path of the build machine may go into the archive."""
    text = b"".join(members.values())
    for local in {str(p) for p in paths}:
        if local.encode() in text:
            raise RuntimeError(f"the archive would contain a path of this machine: {local}")


def build(
    output: Path,
    logs: Path,
    input_npy=None,
    data_dir=None,
    train_briefly=False,
    max_checkpoint_mb: float = 10.0,
    accept_short: bool = False,
    draft: bool = False,
) -> list:
    """Write the archive; return its member names. ``train_briefly`` makes it a draft."""
    entries = shown()
    draft = draft or train_briefly
    if train_briefly:
        _train_briefly(logs, entries, data_dir)
    found = shown_runs(logs, entries, accept_short, draft)
    members = code_members()
    left_out = []
    for run in found.values():
        shipped, small = run_members(run, max_checkpoint_mb)
        members.update(shipped)
        if not small:
            left_out.append(run.parent.name)
    members["hw3/README"] = readme(found, left_out, max_checkpoint_mb)
    flags = [
        f"runs/{run.parent.name}: {flag}" for e, run in found.items() if (flag := e.brief(run))
    ]
    if flags:  # a draft: it says so first
        members["hw3/README"] = ("DRAFT: " + "\nDRAFT: ".join(flags) + "\n\n").encode() + members[
            "hw3/README"
        ]
    members.update(staged_members(members, found, input_npy, data_dir))
    refuse_local_paths(members, ROOT, Path.home(), logs.resolve())
    write_zip(output, members)
    return list(members)


def write_zip(output: Path, members: dict[str, bytes]) -> None:
    """The archive, atomically; every member a plain file readable by all (mode 0644)."""
    now = time.localtime()[:6]
    with atomic_path(output) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(members.items()):
            info = zipfile.ZipInfo(name, date_time=now)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def main(argv=None) -> int:
    p = argument_parser("python -m deliverables.package", __doc__)
    p.add_argument("--output", default="hw3.zip")
    p.add_argument("--logs", default="lightning_logs", help="where the Lightning runs are")
    p.add_argument(
        "--input",
        default=None,
        help="the course's CIFAR-10 test .npy (default: official test split)",
    )
    p.add_argument("--data_dir", default=None, help="data directory for the official test split")
    p.add_argument(
        "--train-briefly",
        action="store_true",
        help="a draft: train 1-epoch runs first if none exist",
    )
    p.add_argument(
        "--draft",
        action="store_true",
        help="ship runs shorter than the homework's minimum, flagged",
    )
    p.add_argument(
        "--accept-short", action="store_true", help="ship runs shorter than one full epoch"
    )
    p.add_argument(
        "--max-checkpoint-mb",
        type=float,
        default=10.0,
        help="ship a run's weights (runs/<experiment>/model.ckpt) when under this size (default 10)",
    )
    a = p.parse_args(argv)
    options = (a.input, a.data_dir, a.train_briefly, a.max_checkpoint_mb, a.accept_short, a.draft)
    return run_main(lambda: make(Path(a.output), Path(a.logs), *options))


def make(
    output: Path,
    logs: Path,
    input_npy=None,
    data_dir=None,
    train_briefly=False,
    max_checkpoint_mb: float = 10.0,
    accept_short: bool = False,
    draft: bool = False,
) -> int:
    """``build`` (the same arguments), the output refused before the minutes of building, then
    say what was written."""
    output_file(output)
    prepare_environment(numpy_backed=False)  # Lightning's notices that are not the student's
    options = (input_npy, data_dir, train_briefly, max_checkpoint_mb, accept_short, draft)
    members = build(output, logs, *options)
    size = output.stat().st_size / 2**20
    flagged = " (a DRAFT: brief runs flagged)" if draft or train_briefly else ""
    print(f"wrote {output}{flagged}: {len(members)} files, {size:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

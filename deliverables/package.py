"""Build the course's submission archive, hw3.zip: it stands alone.

    python -m deliverables.package --output hw3.zip [--input test.npy] [--train-briefly]
                                   [--max-checkpoint-mb 10]

Unzipped, ``hw3/`` holds everything needed to reproduce the results, run from that folder:

    hw3/README                 set-up and every command
    hw3/requirements.txt       the pinned packages
    hw3/CS189_HW_NN.ipynb      the completed notebook, executed at build time from the staged hw3/
                               folder with the project repository blocked from import
    hw3/predictions.csv        CIFAR-10 predictions of the shipped CIFAR run
                               (on --input, the course's test .npy; else the official test split)
    hw3/neural_networks/       numpy_nn under the handout's name (every import renamed)
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

``--train-briefly`` first trains 1-epoch Fashion-MNIST and CIFAR-10 runs when none exist.
No __pycache__, .DS_Store, data, or path of the build machine goes into the archive.
"""

import importlib.metadata
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
import yaml

from commands.cli import train
from commands.entry import UserError, argument_parser, run_main
from commands.predict import run as predict
from deliverables.report import EXPERIMENTS, latest_run
from lightning_hw.io import atomic_path

ROOT = Path(__file__).resolve().parents[1]
EXCLUDE = re.compile(r"(__pycache__|\.DS_Store|\.pyc$|\.ckpt$|\.npz$|(^|/)data/)")
CODE = ("numpy_nn", "lightning_hw", "commands", "configs")  # folders shipped with their files
SCRIPTS = ("train_ffnn.py", "train_cnn.py", "train.py", "predict.py")
SUITE = ("__init__.py", "utils.py", "cases.py", "test_activations.py", "test_layers.py",
         "test_losses.py")  # fmt: skip
GRADIENT_NOTEBOOK = ROOT / "deliverables" / "notebooks" / "check_gradients.ipynb"
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
TRAINING_ONLY = ("optimizer_states", "lr_schedulers", "callbacks", "loops")  # not needed to predict

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
  python train.py --config configs/fashion_mlp.yaml    Fashion-MNIST MLP   -> lightning_logs/fashion_mlp/version_N/
  python train.py --config configs/cifar_cnn.yaml      CIFAR-10 CNN       -> lightning_logs/cifar_cnn/version_N/
  python train.py compare --config configs/iris_compare.yaml   Iris: numpy layers inside torch vs torch
  python predict.py --ckpt runs/{cifar}/model.ckpt --output predictions.csv [--input test.npy]
  tensorboard --logdir lightning_logs                  curves, learning rate, confusion matrices

Each run directory holds its config, metrics.json (per-epoch curves), test_metrics.json,
loss.png, accuracy.png, confusion_matrix.png, misclassified.png and its checkpoints. The curves
called "test" are the official test split evaluated after every epoch (the configs validate on
it, as the assignment does; no checkpoint is chosen by it: the final weights are tested). The
plotted training loss is plain cross-entropy, also where training minimizes a label-smoothed one.

CS189_HW_NN.ipynb (jupyter notebook CS189_HW_NN.ipynb, from this folder) shows the training code
and the runs in runs/: curves, test accuracies, confusion matrices, misclassified images.
HW3_MODE=short retrains both networks for two steps (a check that the code runs; needs the
datasets), HW3_MODE=full retrains them with their configs (Fashion MLP ~1.5 min, CIFAR CNN ~6 min
on 2 CPU cores); the default, archive, shows the shipped runs.
{checkpoints}
predictions.csv: CIFAR-10 test predictions (Id,Category) of runs/{cifar}/.
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


def isolated_command(script: str, *args: str) -> list[str]:
    """A command line that runs ``script`` (relative to the working directory; or ``"-m",
    module``, as python takes them) with the project repository blocked from import, so only
    the code beside the script can be used."""
    run = (
        "import runpy\nsys.argv = sys.argv[1:]\n"
        "if sys.argv[0] == '-m':\n"
        "    del sys.argv[0]\n"
        "    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
        "else:\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    return [sys.executable, "-c", ISOLATION + run, script, *args]


def handout_names(text: str) -> str:
    """``text`` with numpy_nn renamed to the handout's ``neural_networks``."""
    return re.sub(r"\bnumpy_nn\b", "neural_networks", text)


def _notebook(experiments: dict[str, str]):
    """The course notebook, for runs under ``runs/<experiment>`` (relative to hw3/)."""
    import nbformat

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        md(
            "# Neural networks homework: the PyTorch part\n\n"
            "Run from the unzipped `hw3/` folder after `pip install -r requirements.txt`. It shows the "
            "code that trains the Fashion-MNIST MLP and the CIFAR-10 CNN, their curves, test "
            "accuracies, confusion matrices and misclassified test images. The numpy part "
            "(`neural_networks/`, `train_ffnn.py`) runs from the command line: see `README`."
        ),
        code(
            "import inspect, json, os\nfrom pathlib import Path\n\n"
            "import matplotlib.pyplot as plt\nfrom IPython.display import Image, Markdown, display\n\n"
            '# "archive": show the runs in runs/ (trained with the configs below, as README says)\n'
            '# "short":   retrain both networks for two steps: the code runs (needs the datasets;\n'
            "#            its accuracies mean nothing)\n"
            '# "full":    retrain both with their configs (MLP ~1.5 min, CNN ~6 min on 2 CPU cores)\n'
            'MODE = os.environ.get("HW3_MODE", "archive")\n'
            'DATA_DIR = os.environ.get("DATA_DIR", "data")  # downloaded here when missing\n'
            f"EXPERIMENTS = {experiments!r}\n"
            'assert Path("train.py").is_file() and Path("lightning_hw").is_dir(), '
            '"run this notebook from the unzipped hw3/ folder"'
        ),
        md(
            "## The training code\n\nEach network is one config (every hyperparameter, with the reason "
            "for it) run by the one Lightning training loop: `python train.py --config "
            "configs/<experiment>.yaml` calls `commands.cli.train`. The networks are "
            "`lightning_hw.networks.MLP` (fully-connected layers only) and "
            "`lightning_hw.networks.CifarCNN`; the LightningModule is `lightning_hw.classifier.Classifier`."
        ),
        code(
            "from lightning_hw.networks import MLP, CifarCNN\n\n"
            "for experiment in EXPERIMENTS.values():\n"
            '    print(f"# configs/{experiment}.yaml\\n" + Path(f"configs/{experiment}.yaml").read_text())\n'
            "print(inspect.getsource(MLP))"
        ),
        code("print(inspect.getsource(CifarCNN))"),
        code(
            "from commands.cli import train\n\n\n"
            "def retrain(experiment: str) -> Path:\n"
            '    args = ["--config", f"configs/{experiment}.yaml", "--data.init_args.data_dir", DATA_DIR,\n'
            '            "--trainer.logger.init_args.save_dir", "lightning_logs",\n'
            '            "--trainer.enable_progress_bar", "false"]\n'
            '    if MODE == "short":\n'
            '        args += ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",\n'
            '                 "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1"]\n'
            '    return Path(train(args)["log_dir"])\n\n\n'
            'if MODE == "archive":\n'
            '    RUNS = {name: Path("runs") / experiment for name, experiment in EXPERIMENTS.items()}\n'
            "else:\n"
            "    RUNS = {name: retrain(experiment) for name, experiment in EXPERIMENTS.items()}\n"
            "RUNS"
        ),
        md("## The networks and their test accuracies"),
        code(
            "from lightning_hw.classifier import load_classifier\n\n"
            'rows = ["| network | epochs | test accuracy | test loss |", "|---|---:|---:|---:|"]\n'
            "for name, run in RUNS.items():\n"
            '    test = json.loads((run / "test_metrics.json").read_text())\n'
            '    epochs = len(json.loads((run / "metrics.json").read_text())["val/acc"])\n'
            "    rows.append(f\"| {name} | {epochs} | {test['test/acc']:.2%} | {test['test/loss']:.4f} |\")\n"
            '    ckpt = next((c for c in (run / "model.ckpt", run / "checkpoints" / "last.ckpt") if c.exists()), None)\n'
            "    if ckpt is None:\n"
            '        print(f"{name}: its checkpoint is not in the archive (too large); make it with "\n'
            '              f"`python train.py --config configs/{EXPERIMENTS[name]}.yaml`\\n")\n'
            "        continue\n"
            "    model = load_classifier(str(ckpt))\n"
            '    print(f"{name} ({ckpt}): {sum(p.numel() for p in model.parameters()):,} parameters")\n'
            '    print(model.network, end="\\n\\n")\n'
            'display(Markdown("\\n".join(rows)))'
        ),
        md(
            "## Loss and accuracy per epoch\n\nThe curve called *test* is the official test split, "
            "evaluated after every epoch (the configs validate on it, as the assignment does; no "
            "checkpoint is chosen by it: the final weights are tested). Both loss curves are plain "
            "cross-entropy, also where training minimizes a label-smoothed loss. The training curves "
            "are measured during the epoch, with dropout and augmentation on."
        ),
        code(
            "fig, axes = plt.subplots(len(RUNS), 2, figsize=(11, 3.6 * len(RUNS)), squeeze=False)\n"
            "for row, (name, run) in zip(axes, RUNS.items()):\n"
            '    h = json.loads((run / "metrics.json").read_text())\n'
            '    other = h.get("val_label", "validation")\n'
            '    for ax, kind, label in zip(row, ("loss", "acc"), ("cross-entropy", "accuracy")):\n'
            '        epochs = range(1, len(h[f"train/{kind}"]) + 1)\n'
            '        ax.plot(epochs, h[f"train/{kind}"], "o-", label="train")\n'
            '        ax.plot(epochs, h[f"val/{kind}"], "o-", label=other)\n'
            '        ax.set(title=f"{name}: {label}", xlabel="epoch", ylabel=label)\n'
            "        ax.grid(alpha=0.3)\n"
            "        ax.legend()\n"
            "fig.tight_layout()\nplt.show()"
        ),
        md(
            "## What the networks get wrong\n\nConfusion matrices of the test split (rows: true "
            "class, columns: predicted) and the first misclassified test images, titled "
            "*predicted / true*; written by the `ErrorAnalysis` callback "
            "(`lightning_hw/error_analysis.py`) at test time."
        ),
        code(
            "for name, run in RUNS.items():\n"
            '    display(Markdown(f"### {name}"))\n'
            '    for picture in ("confusion_matrix.png", "misclassified.png"):\n'
            "        if (run / picture).exists():\n"
            "            display(Image(filename=str(run / picture)))"
        ),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
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
                    "argv": [sys.executable, "-c", launch, "-f", "{connection_file}"],
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


def _train_briefly(logs: Path) -> None:
    for config, name, extra in (
        ("fashion_mlp.yaml", "fashion", ["--trainer.max_epochs", "1"]),
        ("cifar_cnn.yaml", "cifar", ["--trainer.max_epochs", "1"]),
    ):
        if latest_run(logs, EXPERIMENTS[name]) is None:
            train(
                [
                    "--config",
                    str(ROOT / "configs" / config),
                    "--trainer.logger.init_args.save_dir",
                    str(logs),
                    "--trainer.enable_progress_bar",
                    "false",
                    *extra,
                ]
            )


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
    requirements = [r for r in importlib.metadata.requires("nn-hw") if "extra ==" not in r]
    members["hw3/requirements.txt"] = ("\n".join(requirements) + "\n").encode()
    members.update(suite_members())
    return members


def suite_members() -> dict[str, bytes]:
    """The conformance suite (``tests/course``, the course's test format) as ``hw3/tests/``:
    the tests, their cases and fixtures; not this repository's conftest or fixture generator."""
    suite = ROOT / "tests" / "course"
    members = {f"hw3/tests/{name}": (suite / name).read_bytes() for name in SUITE}
    for fixture in sorted((suite / "fixtures").glob("*.npz")):  # the course's folder name: data/
        members[f"hw3/tests/data/{fixture.name}"] = fixture.read_bytes()
    return members


def weights_only(checkpoint: Path) -> bytes:
    """A Lightning checkpoint without its training state (optimizer, schedule, callbacks such
    as Lookahead's average, loops): the weights, the network's description and the DataModule's
    normalization, all that ``load_classifier`` and ``predict.py`` read."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    kept = {k: _portable(v, k) for k, v in ckpt.items() if k not in TRAINING_ONLY}
    with tempfile.TemporaryFile() as f:
        torch.save(kept, f)
        f.seek(0)
        return f.read()


def _portable(value, key: str = ""):
    """A run's config with this machine's paths taken out: the data directory becomes the
    default (null: $DATA_DIR, else data/), the log directory ``lightning_logs``; any other
    absolute or parent-relative path becomes null."""
    if isinstance(value, dict):
        return {k: _portable(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v, key) for v in value]
    if isinstance(value, str) and (Path(value).is_absolute() or value.startswith("..")):
        return "lightning_logs" if key == "save_dir" else None
    return value


def run_members(run: Path, max_checkpoint_mb: float) -> tuple[dict[str, bytes], bool]:
    """``hw3/runs/<experiment>/``: what the notebook shows, and the checkpoint when it is small.
    Returns (members, whether model.ckpt is among them)."""
    folder = f"hw3/runs/{run.parent.name}"
    members = {f"{folder}/{n}": (run / n).read_bytes() for n in RUN_FILES if (run / n).exists()}
    config = _portable(yaml.safe_load((run / "config.yaml").read_text()))
    members[f"{folder}/config.yaml"] = yaml.safe_dump(config, sort_keys=False).encode()
    model = weights_only(run / "checkpoints" / "last.ckpt")
    small = len(model) <= max_checkpoint_mb * 2**20
    if small:
        members[f"{folder}/model.ckpt"] = model
    return members, small


def build(
    output: Path,
    logs: Path,
    input_npy=None,
    data_dir=None,
    train_briefly=False,
    max_checkpoint_mb: float = 10.0,
) -> list:
    """Write the archive; return its member names."""
    import nbformat

    if train_briefly:
        _train_briefly(logs)
    runs = {name: latest_run(logs, EXPERIMENTS[name]) for name in ("fashion", "cifar")}
    for name, run in runs.items():
        if run is None or not (run / "checkpoints" / "last.ckpt").exists():
            config = "fashion_mlp" if name == "fashion" else "cifar_cnn"
            raise UserError(
                f"no finished {name} run with a checkpoint under {logs}: run "
                f"`python train.py --config configs/{config}.yaml` (or pass --train-briefly)"
            )
    members = code_members()
    left_out = []
    for run in runs.values():
        shipped, small = run_members(run, max_checkpoint_mb)
        members.update(shipped)
        if not small:
            left_out.append(run.parent.name)
    cifar = runs["cifar"].parent.name
    note = (
        "\nThe checkpoints of "
        + ", ".join(f"runs/{e}" for e in left_out)
        + f" are over {max_checkpoint_mb:g} MB and not in the archive: train.py makes them "
        "(lightning_logs/<experiment>/version_N/checkpoints/last.ckpt).\n"
        if left_out
        else "\nruns/*/model.ckpt: the trained weights (no optimizer state), loadable with "
        "lightning_hw.classifier.load_classifier and predict.py.\n"
    )
    members["hw3/README"] = README.format(checkpoints=note, cifar=cifar).encode()
    experiments = {
        "Fashion-MNIST MLP": runs["fashion"].parent.name,
        "CIFAR-10 CNN": cifar,
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "predictions.csv"
        predict(str(runs["cifar"] / "checkpoints" / "last.ckpt"), input_npy, str(csv), data_dir)
        members["hw3/predictions.csv"] = csv.read_bytes()
        stage = tmp / "staged"
        for name, data in members.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_bytes(data)
        nb = execute_notebook(_notebook(experiments), stage / "hw3", {"HW3_MODE": "archive"})
        members["hw3/CS189_HW_NN.ipynb"] = nbformat.writes(nb).encode()
        checks = execute_notebook(nbformat.read(GRADIENT_NOTEBOOK, as_version=4), stage / "hw3")
        members["hw3/check_gradients.ipynb"] = nbformat.writes(checks).encode()
    text = b"".join(members.values())
    for local in {str(ROOT), str(Path.home()), str(logs.resolve()), str(tmp)}:
        if local.encode() in text:
            raise RuntimeError(f"the archive would contain a path of this machine: {local}")
    with atomic_path(output) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(members.items()):
            z.writestr(name, data)
    return list(members)


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
        "--train-briefly", action="store_true", help="train 1-epoch runs first if none exist"
    )
    p.add_argument(
        "--max-checkpoint-mb",
        type=float,
        default=10.0,
        help="ship a run's weights (runs/<experiment>/model.ckpt) when under this size (default 10)",
    )
    args = p.parse_args(argv)

    def body() -> int:
        members = build(
            Path(args.output),
            Path(args.logs),
            args.input,
            args.data_dir,
            args.train_briefly,
            args.max_checkpoint_mb,
        )
        size = Path(args.output).stat().st_size / 2**20
        print(f"wrote {args.output}: {len(members)} files, {size:.1f} MB")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())

"""Build the course's submission archive.

    python -m deliverables.package --output hw3.zip [--input test.npy] [--train-briefly]

    hw3/neural_networks/     numpy_nn, importable under the handout's name
    hw3/train_ffnn.py        the Iris trainer, importing neural_networks
    hw3/README               how to reproduce every result
    hw3/predictions.csv      CIFAR-10 predictions of the newest CIFAR checkpoint
                             (on --input, the course's test .npy; else the official test split)
    hw3/CS189_HW_NN.ipynb    an executed notebook: loads the Fashion-MNIST and CIFAR-10
                             checkpoints with the project's modules and shows their curves

``--train-briefly`` first trains short Fashion-MNIST and CIFAR-10 runs when none exist.
No __pycache__, .DS_Store, checkpoints or data go into the archive.
"""

import re
import sys
import tempfile
import zipfile
from pathlib import Path

from commands.cli import train
from commands.entry import UserError, argument_parser, run_main
from commands.predict import run as predict
from deliverables.report import EXPERIMENTS, latest_run
from lightning_hw.io import atomic_path

ROOT = Path(__file__).resolve().parents[1]
EXCLUDE = re.compile(r"(__pycache__|\.DS_Store|\.pyc$|\.ckpt$|\.npz$|(^|/)data/)")

README = """\
Neural networks homework: how to reproduce every result
=========================================================

This archive was built by `python -m deliverables.package` from the project's repository, where
every command below runs after `make demo` (which also creates the virtual environment).

numpy network (neural_networks/, plain numpy, every gradient derived by hand)
  python -m neural_networks.gradcheck   gradient check of every layer, activation and loss
  python train_ffnn.py                  Iris, default hyperparameters -> experiments/<run>/loss.png, error.png
  python train_ffnn.py --sweep          lr x hidden sweep -> experiments/sweep/results.md, loss.png

In the project repository (PyTorch Lightning):
  python train.py compare --config configs/iris_compare.yaml   numpy layers inside torch vs torch
  python train.py --config configs/fashion_mlp.yaml             Fashion-MNIST MLP (curves, checkpoint)
  python train.py --config configs/cifar_cnn.yaml               CIFAR-10 CNN (curves, checkpoint)
  python predict.py --ckpt <cifar run>/checkpoints/last.ckpt --input test.npy --output predictions.csv
  python -m deliverables.report --output report/                the write-up with every plot
  python -m deliverables.package --output hw3.zip               this archive

CS189_HW_NN.ipynb was executed when the archive was built; it loads the trained checkpoints and
shows the loss and accuracy curves of the Fashion-MNIST and CIFAR-10 runs.
"""


def _renamed(text: str) -> str:
    return re.sub(r"\bnumpy_nn\b", "neural_networks", text)


def _notebook(fashion_run: Path, cifar_run: Path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cells = [
        nbformat.v4.new_markdown_cell(
            "# Neural networks homework: PyTorch part\n\nThe Fashion-MNIST MLP and the CIFAR-10 CNN, "
            "loaded from their checkpoints with the project's own modules, and their training curves."
        ),
        nbformat.v4.new_code_cell(
            "import json, sys\nfrom pathlib import Path\n"
            f"sys.path.insert(0, {str(ROOT)!r})  # the project's repository\n"
            "import matplotlib.pyplot as plt\n"
            "from lightning_hw.classifier import load_classifier\n"
            f"RUNS = {{'Fashion-MNIST MLP': Path({str(fashion_run)!r}), 'CIFAR-10 CNN': Path({str(cifar_run)!r})}}"
        ),
        nbformat.v4.new_code_cell(
            "for name, run in RUNS.items():\n"
            "    model = load_classifier(str(run / 'checkpoints' / 'last.ckpt'))\n"
            "    n = sum(p.numel() for p in model.parameters())\n"
            "    test = json.loads((run / 'test_metrics.json').read_text())\n"
            "    print(f\"{name}: {n:,} parameters, test accuracy {test['test/acc']:.4f}\")\n"
            "    print(model.network)"
        ),
        nbformat.v4.new_code_cell(
            "fig, axes = plt.subplots(2, 2, figsize=(11, 7))\n"
            "for row, (name, run) in zip(axes, RUNS.items()):\n"
            "    h = json.loads((run / 'metrics.json').read_text())\n"
            "    for ax, kind, label in zip(row, ('loss', 'acc'), ('cross-entropy loss', 'accuracy')):\n"
            "        epochs = range(1, len(h[f'train/{kind}']) + 1)\n"
            "        ax.plot(epochs, h[f'train/{kind}'], label='train')\n"
            "        ax.plot(epochs, h[f'val/{kind}'], label='validation')\n"
            "        ax.set(title=f'{name}: {label}', xlabel='epoch', ylabel=label)\n"
            "        ax.grid(alpha=0.3); ax.legend()\n"
            "fig.tight_layout()\nplt.show()"
        ),
    ]
    nb.cells = cells
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def execute_notebook(nb, cwd: Path, timeout: int = 600):
    from nbclient import NotebookClient

    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
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


def build(output: Path, logs: Path, input_npy=None, data_dir=None, train_briefly=False) -> list:
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
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "predictions.csv"
        predict(str(runs["cifar"] / "checkpoints" / "last.ckpt"), input_npy, str(csv), data_dir)
        nb = execute_notebook(_notebook(runs["fashion"], runs["cifar"]), ROOT)
        members = {}
        for path in sorted((ROOT / "numpy_nn").rglob("*")):
            rel = path.relative_to(ROOT / "numpy_nn").as_posix()
            if path.is_file() and not EXCLUDE.search(rel):
                data = path.read_bytes()
                if path.suffix == ".py":
                    data = _renamed(data.decode()).encode()
                members[f"hw3/neural_networks/{rel}"] = data
        members["hw3/train_ffnn.py"] = _renamed((ROOT / "train_ffnn.py").read_text()).encode()
        members["hw3/README"] = README.encode()
        members["hw3/predictions.csv"] = csv.read_bytes()
        members["hw3/CS189_HW_NN.ipynb"] = nbformat.writes(nb).encode()
        with atomic_path(output) as part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
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
    args = p.parse_args(argv)

    def body() -> int:
        members = build(
            Path(args.output), Path(args.logs), args.input, args.data_dir, args.train_briefly
        )
        print(f"wrote {args.output}: {len(members)} files")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())

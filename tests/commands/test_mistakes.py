"""Every entry point answers a user's mistake in one line with exit status 2, leaves no file or
directory behind, and shows the traceback under NN_DEBUG=1 (commands/entry.py's policy)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from commands.entry import UserError, run_main
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import make_cifar, make_fashion

IRIS = str(ROOT / "configs/iris_numpy.yaml")
IRIS_TORCH = str(ROOT / "configs/iris_torch.yaml")
FASHION = str(ROOT / "configs/fashion_mlp.yaml")
QUIET = ["--trainer.enable_progress_bar", "false"]

TRAIN = [str(ROOT / "train.py")]
COMPARE = [str(ROOT / "train.py"), "compare"]
PREDICT = [str(ROOT / "predict.py")]
FFNN = [str(ROOT / "train_ffnn.py"), "--no-progress"]
CNN = [str(ROOT / "train_cnn.py"), "--no-progress"]
APPENDIX = [str(ROOT / "generate_submission.py")]
REPORT = ["-m", "deliverables.report"]
PACKAGE = ["-m", "deliverables.package"]
HANDIN = ["-m", "deliverables.handin"]
BENCH = [str(ROOT / "bench" / "__main__.py")]

# Half-edited YAML, outputs that are folders (or under a file), Lightning's own refusals,
# infinite and out-of-range numbers, resuming a finished run (issue 29)
MORE_MISTAKES = [
    ("blank defaults entry", TRAIN, ["--config", "{f}/blank.yaml"], "entry 2 of defaults is empty"),
    ("empty config", TRAIN, ["--config", "{f}/empty.yaml"], "empty.yaml is empty"),
    (
        "val_check_interval over an epoch",
        TRAIN,
        ["--config", IRIS, *QUIET, "--trainer.val_check_interval", "1000"],
        "`val_check_interval` (1000) must be less than or equal to the number of the training batches",
    ),
    (
        "negative num_workers",
        TRAIN,
        ["--config", IRIS, *QUIET, "--data.init_args.num_workers", "-1"],
        "num_workers option should be non-negative",
    ),
    (
        "resume a finished run",
        TRAIN,
        [
            "--config",
            IRIS_TORCH,
            *QUIET,
            "--ckpt_path",
            "{f}/iris_torch.ckpt",
            "--trainer.max_epochs",
            "1",
        ],
        "has finished 1 epochs and --trainer.max_epochs is 1",
    ),
    ("compare: blank run", COMPARE, ["--config", "{f}/blankrun.yaml"], "runs.torch is empty"),
    (
        "compare: negative epochs",
        COMPARE,
        ["--config", "{f}/unequal.yaml", "--epochs", "-3"],
        "--epochs must be at least 1, got -3",
    ),
    (
        "compare: zero epochs",
        COMPARE,
        ["--config", "{f}/unequal.yaml", "--epochs", "0"],
        "--epochs must be at least 1, got 0",
    ),
    (
        "predict: output is a folder",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--output", "{f}"],
        "it is a folder",
    ),
    ("ffnn: infinite lr", FFNN, ["--lr", "inf"], "--lr must be a positive finite number, got inf"),
    ("ffnn: negative seed", FFNN, ["--seed", "-1"], "--seed must be a non-negative integer"),
    (
        "ffnn: save-dir is a file",
        FFNN,
        ["--save-dir", "{f}/bad.yaml"],
        "bad.yaml is a file, not a folder",
    ),
    ("cnn: infinite lr", CNN, ["--lr", "inf"], "--lr a positive finite number"),
    ("cnn: limit 0", CNN, ["--limit", "0"], "--limit at least 1, got 0 and 0"),
    ("cnn: negative limit", CNN, ["--limit", "-5"], "--limit at least 1"),
    (
        "cnn: save-dir is a file",
        CNN,
        ["--save-dir", "{f}/bad.yaml"],
        "bad.yaml is a file, not a folder",
    ),
    ("appendix: output is a folder", APPENDIX, ["--output", "{f}"], "it is a folder"),
    (
        "report: output under a file",
        REPORT,
        ["--output", "{f}/bad.yaml/report"],
        "bad.yaml is a file, not a folder",
    ),
    ("package: output is a folder", PACKAGE, ["--output", "{f}"], "it is a folder"),
    (
        "package: output under a missing folder",
        PACKAGE,
        ["--output", "no/such/hw3.zip"],
        "folder no/such does not exist",
    ),
    ("bench: output is a folder", BENCH, ["--out", "{f}"], "it is a folder"),
    (
        "bench: output under a missing folder",
        BENCH,
        ["--out", "nowhere/benchmarks.md"],
        "folder nowhere does not exist",
    ),
    (
        "predict: a partial CIFAR-10 copy",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--data_dir", "{f}/partial"],
        "cifar-10-batches-py is incomplete: {f}/partial/cifar-10-batches-py/data_batch_3 is missing",
    ),
    (
        "report: a run shorter than an epoch",
        REPORT,
        ["--logs", "{f}/short", "--experiments", "{f}", "--output", "r"],
        "stopped before one full epoch of training and validation",
    ),
    (
        "package: a run shorter than an epoch",
        PACKAGE,
        ["--logs", "{f}/short", "--output", "hw3.zip"],
        "stopped before one full epoch of training and validation",
    ),
    (
        "report: no name for the cover page",
        REPORT,
        ["--experiments", "none", "--logs", "none", "--allow-missing"],
        "no name for the cover page: copy student.example.yaml to student.yaml",
    ),
    ("handin: no name for the cover page", HANDIN, [], "no name for the cover page"),
    (
        "compare: a run file that is not there",
        COMPARE,
        ["--config", "{f}/lost.yaml"],
        "run file nowhere.yaml not found (looked for",
    ),
]

# (name, entry point, arguments ({f}: the folder of prepared files), what the line must say)
MISTAKES = [
    # train.py: configs
    ("malformed yaml", TRAIN, ["--config", "{f}/bad.yaml"], "bad.yaml line 2 is not valid YAML"),
    ("missing config", TRAIN, ["--config", "missing.yaml"], "missing.yaml does not exist"),
    ("unknown section", TRAIN, ["--config", "{f}/unknown.yaml"], "bogus_section"),
    (
        "missing fragment",
        TRAIN,
        ["--config", "{f}/fragment.yaml"],
        "names the fragment nowhere.yaml",
    ),
    ("unknown key", TRAIN, ["--config", IRIS, "--model.bogus", "1"], "--model.bogus"),
    (
        "lr not a number",
        TRAIN,
        ["--config", IRIS, "--model.optimizer.lr", "abc"],
        "model.optimizer.lr: Expected a float, got abc",
    ),
    (
        "epochs not a number",
        TRAIN,
        ["--config", IRIS, "--trainer.max_epochs", "many"],
        "trainer.max_epochs",
    ),
    (
        "unknown optimizer",
        TRAIN,
        ["--config", IRIS, "--model.optimizer", "bogus"],
        "'bogus' is neither an importable class",
    ),
    (
        "negative lr",
        TRAIN,
        ["--config", IRIS, "--model.optimizer.lr", "-1"],
        "Invalid learning rate: -1",
    ),
    (
        "negative epochs",
        TRAIN,
        ["--config", IRIS, "--trainer.max_epochs", "-5"],
        "`max_epochs` must be a non-negative integer",
    ),
    (
        "unknown backend",
        TRAIN,
        ["--config", IRIS, "--model.network.init_args.backend", "jax"],
        "unknown backend 'jax'",
    ),
    (
        "zero batch",
        TRAIN,
        ["--config", IRIS, "--data.init_args.batch_size", "0"],
        "batch_size must be at least 1, got 0",
    ),
    (
        "bad warm-up",
        TRAIN,
        ["--config", FASHION, "--model.lr_scheduler.warmup_fraction", "2"],
        "warmup_fraction must be in [0, 1), got 2",
    ),
    (
        "no data offline",
        TRAIN,
        [
            "--config",
            FASHION,
            "--data.init_args.data_dir",
            "{f}/nodata",
            "--data.init_args.download",
            "false",
        ],
        "FashionMNIST not found in",
    ),
    (
        "nan loss",
        TRAIN,
        ["--config", IRIS_TORCH, "--model.optimizer.lr", "1e30", *QUIET],
        "loss became nan",
    ),
    # train.py: checkpoints
    (
        "missing checkpoint",
        TRAIN,
        ["--config", IRIS, "--ckpt_path", "missing.ckpt"],
        "no such file",
    ),
    (
        "random-bytes checkpoint",
        TRAIN,
        ["--config", IRIS, "--ckpt_path", "{f}/random.ckpt"],
        "not a readable checkpoint",
    ),
    (
        "other class checkpoint",
        TRAIN,
        ["--config", IRIS, "--ckpt_path", "{f}/mlp.ckpt"],
        "holds a lightning_hw.networks.mlp.MLP but the config trains",
    ),
    (
        "other backend checkpoint",
        TRAIN,
        ["--config", IRIS, "--ckpt_path", "{f}/iris_torch.ckpt"],
        "holds IrisFFNN(backend=torch, hidden=25",
    ),
    (
        "other width checkpoint",
        TRAIN,
        [
            "--config",
            IRIS_TORCH,
            "--model.network.init_args.hidden",
            "7",
            "--ckpt_path",
            "{f}/iris_torch.ckpt",
        ],
        "but the config trains IrisFFNN(backend=torch, hidden=7",
    ),
    ("nothing to resume", TRAIN, ["--config", IRIS, "--ckpt_path", "last"], "nothing to resume"),
    # train.py compare
    (
        "compare: missing config",
        COMPARE,
        ["--config", "missing.yaml"],
        "missing.yaml does not exist",
    ),
    ("compare: malformed", COMPARE, ["--config", "{f}/bad.yaml"], "is not valid YAML"),
    ("compare: no runs", COMPARE, ["--config", "{f}/noruns.yaml"], "names no runs"),
    ("compare: unequal twins", COMPARE, ["--config", "{f}/unequal.yaml"], "differs from"),
    ("compare: bad option", COMPARE, ["--epochs", "x"], "argument --epochs: invalid int value"),
    # predict.py
    (
        "predict: missing checkpoint",
        PREDICT,
        ["--ckpt", "missing.ckpt"],
        "missing.ckpt does not exist",
    ),
    (
        "predict: random bytes",
        PREDICT,
        ["--ckpt", "{f}/random.ckpt"],
        "is not a readable checkpoint",
    ),
    (
        "predict: not an image model",
        PREDICT,
        ["--ckpt", "{f}/iris_torch.ckpt"],
        "not trained on an image dataset (CIFAR10DataModule, FashionMNISTDataModule)",
    ),
    (
        "predict: missing input",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "none.npy"],
        "none.npy does not exist",
    ),
    (
        "predict: npz",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/x.npz"],
        "is an .npz archive",
    ),
    (
        "predict: 0-d array",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/zero_d.npy"],
        "holds no images (shape ())",
    ),
    (
        "predict: text file",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/text.npy"],
        "is not a .npy file",
    ),
    (
        "predict: truncated",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/truncated.npy"],
        "truncated or damaged",
    ),
    (
        "predict: objects",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/objects.npy"],
        "holds Python objects",
    ),
    (
        "predict: NaN floats",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/nan.npy"],
        "dtype float32 and contains NaN",
    ),
    (
        "predict: wrong shape",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/shape.npy"],
        "has shape (4, 100)",
    ),
    (
        "predict: empty",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/empty.npy"],
        "holds no images",
    ),
    (
        "predict: missing folder",
        PREDICT,
        ["--ckpt", "{f}/cifar.ckpt", "--input", "{f}/ok.npy", "--output", "no/such/p.csv"],
        "folder no/such does not exist",
    ),
    # train_ffnn.py
    ("ffnn: negative lr", FFNN, ["--lr", "-1"], "--lr must be a positive finite number"),
    ("ffnn: zero batch", FFNN, ["--batch-size", "0"], "--batch-size must be at least 1"),
    (
        "ffnn: unknown activation",
        FFNN,
        ["--activation", "swish"],
        "--activation 'swish' is unknown",
    ),
    ("ffnn: not a number", FFNN, ["--epochs", "abc"], "argument --epochs: invalid int value"),
    # deliverables and bench
    (
        "appendix: missing folder",
        APPENDIX,
        ["--output", "no/such/a.md"],
        "cannot write no/such/a.md",
    ),
    ("appendix: unknown format", APPENDIX, ["--format", "pdf"], "invalid choice: 'pdf'"),
    (
        "report: output is a file",
        REPORT,
        ["--output", "{f}/bad.yaml", "--allow-missing"],
        "is a file: pass a folder",
    ),
    (
        "report: missing runs",
        REPORT,
        ["--experiments", "none", "--logs", "none"],
        "python train_ffnn.py --sweep",
    ),
    (
        "package: no runs",
        PACKAGE,
        ["--logs", "none", "--output", "hw3.zip"],
        "no finished Fashion-MNIST MLP run",
    ),
    ("bench: unknown suite", BENCH, ["--only", "bogus"], "no benchmark named bogus"),
    *MORE_MISTAKES,
]
FIRST_OF_EACH = {}
for _name, _entry, _, _ in MISTAKES:
    FIRST_OF_EACH.setdefault(tuple(_entry), _name)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Bad inputs, and real checkpoints of three kinds: iris_torch, a tiny CIFAR CNN, an MLP stub."""
    from commands.cli import train

    f = tmp_path_factory.mktemp("files")
    (f / "bad.yaml").write_text("model: [\n  oops")
    (f / "unknown.yaml").write_text("trainer:\n  max_epochs: 1\nbogus_section: 1\n")
    (f / "fragment.yaml").write_text("defaults: [nowhere.yaml]\n")
    (f / "noruns.yaml").write_text("output_dir: out\n")
    (f / "lost.yaml").write_text("runs: {numpy: nowhere.yaml}\n")
    (f / "blank.yaml").write_text(f"defaults:\n  - {IRIS}\n  -\n")
    (f / "empty.yaml").write_text("")
    (f / "blankrun.yaml").write_text(f"runs: {{numpy: {IRIS}, torch: }}\n")
    (f / "fast.yaml").write_text("defaults: [" + IRIS_TORCH + "]\ntrainer: {max_epochs: 3}\n")
    (f / "unequal.yaml").write_text(f"runs: {{numpy: {IRIS}, torch: {f / 'fast.yaml'}}}\n")
    (f / "random.ckpt").write_bytes(np.random.default_rng(0).bytes(4096))
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": {
                "network": {"class_path": "lightning_hw.networks.mlp.MLP", "init_args": {}}
            },
        },
        f / "mlp.ckpt",
    )
    logs = f / "logs"
    r = train(
        [
            "--config",
            IRIS_TORCH,
            *QUIET,
            "--trainer.max_epochs",
            "1",
            "--trainer.logger.init_args.save_dir",
            str(logs),
        ]
    )
    (f / "iris_torch.ckpt").write_bytes(Path(r["best_checkpoint"]).read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        from tests.lightning_hw.fake_data import accept_fake_cifar

        accept_fake_cifar(mp)
        r = train(
            [
                "--config",
                str(ROOT / "configs/cifar_cnn.yaml"),
                *QUIET,
                "--model.network.init_args.widths",
                "[8, 8, 8]",
                "--trainer.max_epochs",
                "1",
                "--trainer.precision",
                "32-true",
                "--data.init_args.batch_size",
                "32",
                "--data.init_args.data_dir",
                str(make_cifar(f / "cifar")),
                "--trainer.logger.init_args.save_dir",
                str(logs),
            ]
        )
    (f / "cifar.ckpt").write_bytes(Path(r["best_checkpoint"]).read_bytes())
    (make_cifar(f / "partial") / "cifar-10-batches-py" / "data_batch_3").unlink()
    train(
        [
            "--config",
            FASHION,
            *QUIET,
            "--trainer.max_steps",
            "2",
            "--data.init_args.batch_size",
            "32",
            "--data.init_args.data_dir",
            str(make_fashion(f / "fashion")),
            "--trainer.logger.init_args.save_dir",
            str(f / "short"),
        ]
    )  # 2 of 4 steps
    np.savez(f / "x.npz", images=np.zeros((2, 3072), np.uint8))
    np.save(f / "zero_d.npy", np.array(7, np.uint8))
    (f / "text.npy").write_text("1,2,3\n4,5,6\n")
    np.save(f / "full.npy", np.zeros((50, 3072), np.uint8))
    (f / "truncated.npy").write_bytes((f / "full.npy").read_bytes()[:5000])
    with open(f / "objects.npy", "wb") as out:  # an object array: np.save pickles it
        np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(f / "nan.npy", np.full((2, 3072), np.nan, np.float32))
    np.save(f / "shape.npy", np.zeros((4, 100), np.uint8))
    np.save(f / "empty.npy", np.zeros((0, 3072), np.uint8))
    np.save(f / "ok.npy", np.zeros((2, 3072), np.uint8))
    return f


def _run(entry, args, cwd, debug=False):
    env = {k: v for k, v in os.environ.items() if k != "NN_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    if debug:
        env["NN_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, *entry, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("name, entry, args, fragment", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_one_line_exit_2_nothing_left(name, entry, args, fragment, files, tmp_path):
    args = [a.replace("{f}", str(files)) for a in args]
    fragment = fragment.replace("{f}", str(files))
    before = sorted(files.rglob("*"))
    proc = _run(entry, args, tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "litlogger" not in proc.stderr
    assert fragment in errors[0], errors[0]
    assert not list(tmp_path.iterdir()), list(tmp_path.rglob("*"))  # no file, no run directory
    assert sorted(files.rglob("*")) == before
    if FIRST_OF_EACH[tuple(entry)] == name:  # NN_DEBUG=1: the traceback instead
        debug = _run(entry, args, tmp_path, debug=True)
        assert debug.returncode != 0 and "Traceback" in debug.stderr, debug.stderr[-2000:]


def test_bugs_keep_their_traceback_and_debug_shows_user_errors(monkeypatch, capsys):
    monkeypatch.delenv("NN_DEBUG", raising=False)

    def mistake():
        raise UserError("the config names no network: add model.network")

    assert run_main(mistake) == 2
    assert capsys.readouterr().err == "error: the config names no network: add model.network\n"
    with pytest.raises(ZeroDivisionError):
        run_main(lambda: 1 // 0)
    monkeypatch.setenv("NN_DEBUG", "1")
    with pytest.raises(UserError):
        run_main(mistake)


def test_missing_data_is_reported_before_the_trainer_is_set_up(tmp_path):
    """The data is looked for before Lightning builds its Trainer: the error line is not buried
    under the precision, AMP and accelerator lines, and it says how to let the data download."""
    proc = _run(
        TRAIN,
        [
            "--config",
            FASHION,
            "--data.data_dir",
            str(tmp_path / "nodata"),
            "--data.download",
            "false",
        ],
        tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    said = (proc.stdout + proc.stderr).splitlines()
    assert not [line for line in said if "available" in line or "precision" in line], said
    assert said[-1].startswith("error: FashionMNIST not found in"), said
    assert "downloading is off" in said[-1] and "data.download true" in said[-1], said[-1]


def test_a_short_run_is_marked_and_shown_when_accepted(files, tmp_path):
    """A run stopped inside its first epoch (max_steps) says so in metrics.json; the report
    refuses it (above) unless --accept-short, and then draws it without failing."""
    import json

    (run,) = (files / "short" / "fashion_mlp").iterdir()
    assert json.loads((run / "metrics.json").read_text())["short"] is True
    args = [
        "--logs",
        str(files / "short"),
        "--experiments",
        str(files),
        "--output",
        "r",
        "--accept-short",
        "--allow-missing",
        "--draft",
    ]
    proc = _run(REPORT, args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (tmp_path / "r" / "report.md").read_text()
    assert "## 4.1 Fashion-MNIST MLP" in report and "0 epochs," in report  # none validated

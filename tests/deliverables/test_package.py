"""hw3.zip (deliverables/package.py): it stands alone."""

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from deliverables import package
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar


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
    return [sys.executable, "-c", package.ISOLATION + run, script, *args]


def test_hw3_zip_keeps_the_course_structure_and_no_local_paths(hw3_zip, tiny_runs):
    path, hw3, logs = hw3_zip
    z = zipfile.ZipFile(path)
    names = z.namelist()
    for required in (
        "hw3/train_ffnn.py",
        "hw3/README",
        "hw3/predictions.csv",
        "hw3/CS189_HW_NN.ipynb",
        "hw3/requirements.txt",
        "hw3/neural_networks/__init__.py",
        "hw3/neural_networks/layers.py",
        "hw3/neural_networks/iris/iris_train_data.npy",
        "hw3/datasets/iris/iris_test_labels.npy",
        "hw3/lightning_hw/bridge.py",
        "hw3/commands/cli.py",
        "hw3/configs/fashion_mlp.yaml",
        "hw3/train.py",
        "hw3/predict.py",
        "hw3/runs/fashion_mlp/metrics.json",
        "hw3/runs/fashion_mlp/model.ckpt",
        "hw3/runs/cifar_cnn/confusion_matrix.png",
        "hw3/runs/cifar_cnn/misclassified.png",
        "hw3/runs/cifar_cnn/model.ckpt",
        "hw3/check_gradients.ipynb",
        "hw3/tests/__init__.py",
        "hw3/tests/utils.py",
        "hw3/tests/test_layers.py",
        "hw3/tests/data/TestConv2D.npz",
    ):
        assert required in names, required
    suite = set(package.suite_members())
    assert not [
        n for n in names if re.search(r"__pycache__|\.pyc$|\.DS_Store|/data/", n) and n not in suite
    ]
    assert not [n for n in names if re.search(r"\bnumpy_nn\b|deliverables|bench", n)]
    assert {n for n in names if n.startswith("hw3/tests/")} == suite  # no conftest, no generator
    local = {str(ROOT), str(logs), str(tiny_runs[0]), "/tmp/", str(Path.home()) + "/"}
    for name in names:
        data = z.read(name)
        assert not [p for p in local if p.encode() in data], name
        if name.endswith((".py", ".yaml")):
            assert not re.search(r"\bnumpy_nn\b", data.decode()), name  # renamed everywhere
    ckpt = torch.load(hw3 / "runs/cifar_cnn/model.ckpt", weights_only=True)
    assert "optimizer_states" not in ckpt and "callbacks" not in ckpt  # weights, no training state
    # the default networks' weights fit under the default --max-checkpoint-mb (10): both ship
    assert (hw3 / "runs/fashion_mlp/model.ckpt").stat().st_size < 8 * 2**20  # the full-size MLP
    from lightning_hw.networks import CifarCNN

    buffer = io.BytesIO()
    torch.save(CifarCNN().state_dict(), buffer)
    assert 7 * 2**20 < buffer.tell() < 8.5 * 2**20
    rows = z.read("hw3/predictions.csv").decode().splitlines()
    assert rows[0] == "Id,Category" and len(rows) == 31
    requirements = z.read("hw3/requirements.txt").decode()
    assert "torch==2.14.1" in requirements and "notebook==" in requirements  # jupyter notebook
    assert {info.external_attr >> 16 for info in z.infolist()} == {0o100644}  # readable by all


def test_a_draft_archive_flags_its_brief_runs(hw3_zip):
    path, hw3, _ = hw3_zip
    readme = (hw3 / "README").read_text()
    assert readme.startswith("DRAFT: runs/")  # the tiny runs: 1 epoch of the homework's 8
    assert "1 epoch of the 8 the homework asks for" in readme
    assert "python train.py --config configs/cifar_cnn.yaml" in readme.split("\n\n")[0]
    nb = json.loads((hw3 / "CS189_HW_NN.ipynb").read_text())
    text = json.dumps(_notebook_outputs(nb))
    assert "BRIEF RUN: 1 of 8 epochs" in text and "those of full runs" in text


def _package_cli(tmp_path, *flags):
    command = [sys.executable, "-m", "deliverables.package", "--output", str(tmp_path / "h.zip")]
    env = {k: v for k, v in os.environ.items() if k != "DATA_DIR"}
    return subprocess.run([*command, *flags], capture_output=True, text=True, cwd=tmp_path, env=env)


def test_a_final_archive_refuses_brief_runs_naming_the_full_run(tiny_runs, tmp_path):
    _, _, logs = tiny_runs
    done = _package_cli(tmp_path, "--logs", str(logs))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "the homework asks for" in done.stderr and "--draft" in done.stderr
    assert "train the full run: python train.py --config configs/fashion_mlp.yaml" in done.stderr
    assert not (tmp_path / "h.zip").exists()


def test_train_briefly_uses_data_dir_and_leaves_nothing_on_refusal(tmp_path):
    empty = tmp_path / "empty" / "data"
    done = _package_cli(
        tmp_path, "--logs", str(tmp_path / "logs"), "--train-briefly", "--data_dir", str(empty)
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr
    assert f"FashionMNIST not found in {empty}" in done.stderr  # the --data_dir, not data/
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no data/, no run, no zip


def _notebook_outputs(nb) -> list:
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code)
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    return outputs


def test_hw3_notebook_runs_from_the_unzipped_folder_alone(hw3_zip):
    """The shipped notebook was executed at build time; here it runs again from the unzipped
    folder, in a kernel that cannot import the repository (its editable install is blocked)."""
    import nbformat

    _, hw3, _ = hw3_zip
    shipped = json.loads((hw3 / "CS189_HW_NN.ipynb").read_text())
    outputs = _notebook_outputs(shipped)
    pictures = len(list(hw3.glob("runs/*/confusion_matrix.png"))) + len(
        list(hw3.glob("runs/*/misclassified.png"))
    )  # (the tiny Fashion run may make no mistakes)
    assert pictures >= 3
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1 + pictures  # + curves
    nb = nbformat.read(hw3 / "CS189_HW_NN.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import importlib.util, lightning_hw, neural_networks\n"
            "print('FROM', Path(lightning_hw.__file__).resolve(), Path(neural_networks.__file__).resolve())\n"
            "print('REPO', importlib.util.find_spec('numpy_nn'), importlib.util.find_spec('deliverables'))"
        )
    )
    package.execute_notebook(nb, hw3)
    text = "".join(o.get("text", "") for o in _notebook_outputs(nb))
    origin = re.search(r"FROM (\S+) (\S+)", text).groups()
    assert all(Path(p).is_relative_to(hw3.resolve()) for p in origin), origin
    assert "REPO None None" in text
    assert "test accuracy" in str(nb.cells)  # the table of test accuracies
    # the isolation itself: the repository's packages are importable outside it, not inside
    probe = "import importlib.util; print(importlib.util.find_spec('numpy_nn') is None)"
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=hw3)
    assert plain.stdout.strip() == "False"  # the editable install: what the kernel had to block


def test_hw3_train_ffnn_runs_from_the_unzipped_folder_alone(hw3_zip, tmp_path):
    _, hw3, _ = hw3_zip
    out = subprocess.run(
        isolated_command(
            "train_ffnn.py", "--epochs", "2", "--no-progress", "--save-dir", str(tmp_path / "exp")
        ),
        cwd=hw3,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert list((tmp_path / "exp").glob("*/results.json"))


def test_hw3_course_tests_run_with_unittest_from_the_unzipped_folder(hw3_zip):
    """What a grader types: from hw3/, or from inside hw3/tests/; neural_networks is the
    shipped copy, the repository out of reach."""
    _, hw3, _ = hw3_zip
    for cwd, args in ((hw3, ["discover", "-s", "tests", "-v"]), (hw3 / "tests", ["-v"])):
        out = subprocess.run(
            isolated_command("-m", "unittest", *args),
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Ran 29 tests" in out.stderr and "OK" in out.stderr and "skipped" not in out.stderr


def test_hw3_check_gradients_notebook_ran_and_runs_from_the_unzipped_folder(hw3_zip):
    import nbformat

    _, hw3, _ = hw3_zip
    shipped = json.loads((hw3 / "check_gradients.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for o in _notebook_outputs(shipped))
    assert re.search(r"(\d+) of \1 checks below 1e-7", text)  # every check printed and passed
    for check in (
        "relu",
        "softmax",
        "fully_connected[tanh]",
        "conv2d",
        "pool2d[max",
        "flatten",
        "batchnorm1d",
        "cross_entropy",
        "l2",
        "dW",
        "dgamma",
    ):
        assert check in text, check
    nb = nbformat.read(hw3 / "check_gradients.ipynb", as_version=4)
    package.execute_notebook(nb, hw3)  # again, in the kernel that cannot import the repository
    assert "checks below 1e-7" in "".join(o.get("text", "") for o in _notebook_outputs(nb))


def test_hw3_train_ffnn_is_the_handouts_script(hw3_zip):
    _, hw3, _ = hw3_zip
    script = (hw3 / "train_ffnn.py").read_text()
    for call in (
        "AttrDict(",
        "layer_args = [",
        "optimizer_args = AttrDict(",
        "model_args = AttrDict(",
        "data_args = AttrDict(",
        "log_args = AttrDict(",
        "Logger(",
        "initialize_model(",
        "initialize_dataset(",
        "model.train(",
        "model.test(",
    ):
        assert call in script, call
    assert "from neural_networks." in script and "numpy_nn" not in script


def test_hw3_notebook_retrains_both_networks_in_short_mode(hw3_zip, fashion_dir, cifar_dir):
    """HW3_MODE=short runs the notebook's training code (train.py's) on the real datasets."""
    import nbformat

    _, hw3, _ = hw3_zip
    assert fashion_dir == cifar_dir  # one DATA_DIR holds both
    nb = nbformat.read(hw3 / "CS189_HW_NN.ipynb", as_version=4)
    package.execute_notebook(nb, hw3, {"HW3_MODE": "short", "DATA_DIR": str(fashion_dir)})
    outputs = _notebook_outputs(nb)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 5  # curves + 2 x 2 pictures
    for experiment in ("fashion_mlp", "cifar_cnn"):
        run = hw3 / "lightning_logs" / experiment / "version_0"
        assert (run / "test_metrics.json").exists() and (run / "confusion_matrix.png").exists()


def test_hw3_zip_without_large_checkpoints_says_how_to_make_them(tiny_runs, tmp_path):
    _, _, logs = tiny_runs
    with pytest.MonkeyPatch.context() as mp:
        accept_fake_cifar(mp)
        members = package.build(tmp_path / "hw3.zip", logs, max_checkpoint_mb=0.01, draft=True)
    assert not [m for m in members if m.endswith(".ckpt")]
    z = zipfile.ZipFile(tmp_path / "hw3.zip")
    assert (
        "over 0.01 MB and not in the archive: train.py makes them" in z.read("hw3/README").decode()
    )
    nb = json.loads(z.read("hw3/CS189_HW_NN.ipynb"))
    text = "".join("".join(o["text"]) for o in _notebook_outputs(nb) if "text" in o)
    assert "its checkpoint is not in the archive (too large); make it with" in text
    assert "python train.py --config configs/cifar_cnn.yaml" in text


def test_the_grader_gives_hw3_zip_full_marks(hw3_zip, tiny_runs):
    """hw3.zip as deliverables.package builds it, graded as a student's would be."""
    import tempfile

    from grading import grader
    from grading.submission import locate

    path, _, _ = hw3_zip
    base, _, _ = tiny_runs
    labels = grader.cifar_test_labels(base / "cifar")  # the fake test split its run predicted
    with tempfile.TemporaryDirectory() as scratch:
        grade = grader.grade(locate(path, Path(scratch)), labels)
    results = grade.results
    assert grade.semester.name == "hw3"  # recognised from the notebook beside the package
    assert all(r.passed for r in results if r.name != "predictions.csv"), [
        (r.name, r.output) for r in results
    ]
    scored = next(r for r in results if r.name == "predictions.csv")
    assert scored.output.startswith("test accuracy")  # 30 well-formed rows, scored by the table

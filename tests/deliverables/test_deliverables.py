"""generate_submission.py, the report and hw3.zip, end to end on tiny runs."""

import inspect
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from deliverables import package, report
from deliverables.appendix import PIECES, generate, resolve
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar, make_cifar, make_fashion


def test_every_piece_resolves():
    for _, _, dotted in PIECES:
        obj = resolve(dotted)
        assert inspect.isclass(obj) or inspect.isfunction(obj), dotted
        assert f"{obj.__module__}.{obj.__qualname__}" == dotted  # the name says where it lives


@pytest.mark.parametrize("level", [1, 2, 3])
def test_markdown_appendix(level):
    md = generate("markdown", level)
    h = "#" * level
    assert md.startswith(f"{h} Code appendix")
    assert len(re.findall(rf"^{h}## ", md, flags=re.M)) == len(PIECES)
    assert md.count("```python") == len(PIECES) and md.count("```") == 2 * len(PIECES)
    assert "class FullyConnected(WeightedLayer):" in md and "def backward(ctx, grad_out):" in md


def _check_balanced(tex: str) -> None:
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"unbalanced \\end{{{env}}}"
    assert not stack, f"unclosed environments: {stack}"
    body = re.sub(r"\\begin\{lstlisting\}.*?\\end\{lstlisting\}", "", tex, flags=re.S)
    assert body.count("{") == body.count("}")


@pytest.mark.parametrize(
    "level, command", [(1, "section"), (2, "subsection"), (3, "subsubsection")]
)
def test_latex_appendix(level, command, tmp_path):
    tex = generate("latex", level)
    assert tex.startswith(f"\\{command}{{Code appendix}}")
    assert tex.count("\\begin{lstlisting}") == len(PIECES)
    _check_balanced(tex)
    assert all(ord(c) < 128 for c in tex)  # listings cannot typeset multi-byte UTF-8


@pytest.mark.skipif(
    not shutil.which("pdflatex"),
    reason="pdflatex not installed (apt-get install texlive-latex-base)",
)
def test_latex_appendix_compiles(tmp_path):
    (tmp_path / "appendix.tex").write_text(generate("latex", 1))
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\usepackage{listings}\\begin{document}\\input{appendix}\\end{document}\n"
    )
    out = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-2000:]
    assert (tmp_path / "main.pdf").stat().st_size > 1000


def test_generate_submission_cli(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "generate_submission.py"),
            "--format",
            "markdown",
            "--heading_level",
            "2",
            "--output",
            str(tmp_path / "a.md"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a.md").read_text().startswith("## Code appendix")
    help_text = subprocess.run(
        [sys.executable, str(ROOT / "generate_submission.py"), "--help"],
        capture_output=True,
        text=True,
    ).stdout
    assert "lstlisting" in help_text and "heading_level" in help_text


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """numpy_nn runs, the Iris comparison and 1-epoch Fashion/CIFAR runs on fake data."""
    from commands.cli import train
    from commands.compare import compare
    from numpy_nn.experiment import DEFAULTS, run, sweep

    base = tmp_path_factory.mktemp("runs")
    experiments, logs = base / "experiments", base / "lightning_logs"
    run(DEFAULTS, save_dir=str(experiments))
    sweep(DEFAULTS.__class__(epochs=3), lrs=(0.01, 0.1), hidden=(5,), save_dir=str(experiments))
    (base / "cmp.yaml").write_text(
        f"runs: {{numpy: {ROOT}/configs/iris_numpy.yaml, torch: {ROOT}/configs/iris_torch.yaml}}\n"
        f"output_dir: {logs}/iris_compare\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # the compared configs log under ./lightning_logs
        compare(str(base / "cmp.yaml"), epochs=2)
    with pytest.MonkeyPatch.context() as mp:
        accept_fake_cifar(mp)
        quiet = [
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger.init_args.save_dir",
            str(logs),
            "--trainer.max_epochs",
            "1",
            "--data.init_args.batch_size",
            "32",
        ]
        train(
            [
                "--config",
                str(ROOT / "configs/fashion_mlp.yaml"),
                *quiet,
                "--data.init_args.data_dir",
                str(make_fashion(base / "fashion")),
            ]
        )
        train(
            [
                "--config",
                str(ROOT / "configs/cifar_cnn.yaml"),
                *quiet,
                "--data.init_args.data_dir",
                str(make_cifar(base / "cifar")),
                "--model.network.init_args.widths",
                "[8, 8, 8]",
                "--trainer.precision",
                "32-true",
            ]
        )
        yield base, experiments, logs


def test_report_from_tiny_runs(tiny_runs, tmp_path):
    _, experiments, logs = tiny_runs
    r = report.build(tmp_path / "report", experiments, logs, ROOT / "docs")
    assert r["written"] and not r["missing"]
    md = (tmp_path / "report" / "report.md").read_text()
    for title in (
        "Iris: learning rate x hidden units",
        "Fashion-MNIST MLP",
        "CIFAR-10 CNN",
        "Derivations",
        "Code appendix",
        "Iris: numpy_nn, numpy layers in Lightning, and torch",
    ):
        assert f"## {title}" in md
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 8 and all((tmp_path / "report" / i).exists() for i in images)
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(images)
    assert not re.search(r'src="(?!data:)', page)  # self-contained
    assert "\\frac{\\partial L}" in page and "<table>" in page


def test_report_names_the_missing_command(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "deliverables.report",
            "--output",
            str(tmp_path / "r"),
            "--experiments",
            str(tmp_path / "none"),
            "--logs",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 2
    assert "python train_ffnn.py --sweep" in out.stderr and "configs/cifar_cnn.yaml" in out.stderr
    assert not (tmp_path / "r").exists()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "deliverables.report",
            "--output",
            str(tmp_path / "r"),
            "--experiments",
            str(tmp_path / "none"),
            "--logs",
            str(tmp_path / "none"),
            "--allow-missing",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "Missing:" in (tmp_path / "r" / "report.md").read_text()


def test_hw3_zip(tiny_runs, tmp_path):
    _, _, logs = tiny_runs
    with pytest.MonkeyPatch.context() as mp:
        accept_fake_cifar(mp)
        members = package.build(tmp_path / "hw3.zip", logs)
    names = zipfile.ZipFile(tmp_path / "hw3.zip").namelist()
    assert sorted(names) == sorted(members)
    for required in (
        "hw3/train_ffnn.py",
        "hw3/README",
        "hw3/predictions.csv",
        "hw3/CS189_HW_NN.ipynb",
        "hw3/neural_networks/__init__.py",
        "hw3/neural_networks/layers.py",
        "hw3/neural_networks/iris.csv",
    ):
        assert required in names
    assert not [n for n in names if re.search(r"__pycache__|\.DS_Store|\.ckpt$|/data/", n)]
    z = zipfile.ZipFile(tmp_path / "hw3.zip")
    rows = z.read("hw3/predictions.csv").decode().splitlines()
    assert rows[0] == "Id,Category" and len(rows) == 31
    nb = json.loads(z.read("hw3/CS189_HW_NN.ipynb"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] for c in code)
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    # the numpy package runs under its handout name
    z.extractall(tmp_path / "x")
    out = subprocess.run(
        [
            sys.executable,
            "train_ffnn.py",
            "--epochs",
            "2",
            "--no-progress",
            "--save-dir",
            str(tmp_path / "exp"),
        ],
        cwd=tmp_path / "x" / "hw3",
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "numpy_nn" not in z.read("hw3/neural_networks/models.py").decode()

"""generate_submission.py, the report and hw3.zip, end to end on tiny runs."""

import html
import inspect
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

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


QUESTIONS = (
    "3.1 Activation functions",
    "3.2 Fully-connected layer",
    "3.3 Softmax",
    "3.4 Cross-entropy",
    "3.5 Two-layer networks",
    "4.1 Fashion-MNIST MLP",
    "4.2 CIFAR-10 CNN",
)
EXTRAS = (
    "Extra: numpy layers inside Lightning, and torch (Iris)",
    "Extra: derivations of the later layers",
)


@pytest.fixture(scope="module")
def built_report(tiny_runs, tmp_path_factory):
    _, experiments, logs = tiny_runs
    out = tmp_path_factory.mktemp("report") / "report"
    r = report.build(out, experiments, logs, ROOT / "docs")
    assert r["written"] and not r["missing"]
    return out, r


def _outside_code(page: str) -> str:
    return re.sub(r"<pre[^>]*>.*?</pre>|<code>.*?</code>", "", page, flags=re.S)


def test_report_follows_the_questions_in_order(built_report):
    out, r = built_report
    appendix = [f"Appendix {q}" for q in QUESTIONS]
    order = [*QUESTIONS, *EXTRAS, *appendix]
    assert [h for h in r["sections"] if h in order] == order  # every one, in this order
    md = (out / "report.md").read_text()
    assert md.index("## 3.5 Two-layer networks") < md.index("## 4.1") < md.index("## Extra")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 10 and all((out / i).exists() for i in images)
    assert len(set(images)) == len(images)  # no image overwrites another (two loss.png in 3.5)
    # 3.3 gives the Jacobian entry for any (i, j); 3.5 the test error; 4.2 the measured ablation
    assert "\\sigma_i\\left([i=j] - \\sigma_j\\right)" in md
    assert re.search(r"Test error: \*\*0\.\d{3}\*\*", md)
    assert "| no whitening layer init (random, frozen) |" in md
    # the vision runs' confusion matrices (and the CIFAR run's mistakes) are shown, and the curves
    # measured on the test split are called test
    for section in ("fashion_mnist_mlp", "cifar_10_cnn"):
        assert f"{section}_confusion_matrix.png" in images
    assert "cifar_10_cnn_misclassified.png" in images
    assert "The curves called *test* are the official test split" in md
    assert "best validation accuracy" not in md
    # each appendix page holds its question's code
    assert re.search(r"## Appendix 3.1 Activation functions\n+### Sigmoid", md)
    assert md.count("```python") == len(PIECES)


def test_report_html_is_typeset_self_contained_and_paged(built_report):
    out, _ = built_report
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert page.count("data:image/png;base64,") == len(images)
    assert not re.search(r'src="(?!data:)', page) and "<script" not in page  # self-contained
    # every formula typeset as MathML; no LaTeX left outside code
    formulas = report.formulas(md)
    assert len(formulas) >= 100
    assert page.count("<math") == len(formulas)
    text = _outside_code(page)
    assert "$" not in re.sub(r"<math.*?</math>", "", text, flags=re.S)
    assert not re.search(r"\\(frac|partial|sum|mathbb|odot|sigma)\b", text)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in page
    # one page-break marker per question, extra and appendix page, each before its heading
    for heading in (*QUESTIONS, *EXTRAS, *(f"Appendix {q}" for q in QUESTIONS)):
        marker = f'<section class="page">\n<h2>{html.escape(heading, quote=False)}</h2>'
        assert page.count(marker) == 1, heading
    assert "section.page{break-before:page}" in page
    assert "<table>" in page
    # the appendix's code is highlighted (Pygments, colours inlined), one block per listing
    assert page.count('<div class="codehilite"') == md.count("```") // 2
    assert '<span style="color: #008000; font-weight: bold">def</span>' in page


def test_report_tex_has_the_same_sections_and_figures(built_report):
    out, r = built_report
    tex = (out / "report.tex").read_text()
    heads = re.findall(r"\\section\*\{([^}]*)\}", tex)
    expected = [report.markdown_to_latex(f"## {h}", top=2).strip() for h in r["sections"]]
    assert [f"\\section*{{{h}}}" for h in heads] == expected  # the same sections, in order
    for q in QUESTIONS:
        assert f"\\section*{{{q}}}" in tex, q
    figures = re.findall(r"\\includegraphics\[[^\]]*\]\{([^}]+)\}", tex)
    md_images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "report.md").read_text())
    assert figures == md_images and all((out / f).exists() for f in figures)
    assert tex.count("\\clearpage") >= len(QUESTIONS) + len(EXTRAS) + len(QUESTIONS)
    fences = (out / "report.md").read_text().count("```") // 2  # the appendix and 4.2's sketch
    assert tex.count("\\begin{lstlisting}") == fences >= len(PIECES)
    _check_balanced(tex)
    assert all(ord(c) < 128 for c in tex)  # plain pdflatex


@pytest.mark.skipif(
    not shutil.which("pdflatex"),
    reason="pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)",
)
def test_report_tex_compiles(built_report, tmp_path):
    out, _ = built_report
    shutil.copytree(out, tmp_path / "r")
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
        cwd=tmp_path / "r",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "r" / "report.pdf").stat().st_size > 100_000


def _report_cli(tmp_path, *flags, env=None):
    """``python -m deliverables.report`` into tmp_path/r, with no runs to report."""
    command = [sys.executable, "-m", "deliverables.report", "--output", str(tmp_path / "r")]
    command += ["--experiments", str(tmp_path / "none"), "--logs", str(tmp_path / "none")]
    return subprocess.run([*command, *flags], capture_output=True, text=True, cwd=ROOT, env=env)


def test_report_pdf_without_chromium_names_the_package(tmp_path):
    import os

    bin_dir = tmp_path / "bin"  # a PATH with no browser on it
    bin_dir.mkdir()
    out = _report_cli(
        tmp_path, "--allow-missing", "--pdf", env={**os.environ, "PATH": str(bin_dir)}
    )
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if not line.startswith("missing:")]
    assert len(errors) == 1 and "apt-get install chromium" in errors[0], out.stderr
    assert (tmp_path / "r" / "report.html").exists() and not (
        tmp_path / "r" / "report.pdf"
    ).exists()


@pytest.mark.slow
def test_report_pdf_in_chromium_starts_each_question_on_a_page(built_report, tmp_path):
    """Prints report.html with headless Chromium (as `--pdf` does) and reads the PDF's text back:
    each question's heading begins a page, and no LaTeX source shows."""
    browser = report.find_browser()
    if browser is None:
        pytest.skip("Chromium not installed: apt-get install chromium poppler-utils")
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not installed: apt-get install poppler-utils")
    out, _ = built_report
    report.print_pdf(out / "report.html", tmp_path / "report.pdf", browser)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pages = [p.strip() for p in text.split("\f")]
    firsts = [p.splitlines()[0].strip() if p else "" for p in pages]
    for heading in (*QUESTIONS, *EXTRAS, *(f"Appendix {q}" for q in QUESTIONS)):
        assert heading in firsts, (heading, firsts)
    assert not re.search(r"\\(frac|partial|sum|mathbb|left|right)\b|\$\$", text)
    assert "∂" in text  # the derivations are there, typeset


def test_report_names_the_missing_command(tmp_path):
    out = _report_cli(tmp_path)
    assert out.returncode == 2
    assert "python train_ffnn.py --sweep" in out.stderr and "configs/cifar_cnn.yaml" in out.stderr
    assert not (tmp_path / "r").exists()
    out = _report_cli(tmp_path, "--allow-missing")
    assert out.returncode == 0 and "Missing:" in (tmp_path / "r" / "report.md").read_text()


@pytest.fixture(scope="module")
def hw3_zip(tiny_runs, tmp_path_factory):
    """hw3.zip built from the tiny runs, unzipped into an empty folder outside the repository."""
    _, _, logs = tiny_runs
    out = tmp_path_factory.mktemp("zip")
    with pytest.MonkeyPatch.context() as mp:
        accept_fake_cifar(mp)
        members = package.build(out / "hw3.zip", logs)
    unzipped = tmp_path_factory.mktemp("unzipped")
    assert not ROOT.resolve().is_relative_to(unzipped) and not unzipped.is_relative_to(ROOT)
    with zipfile.ZipFile(out / "hw3.zip") as z:
        assert sorted(z.namelist()) == sorted(members)
        z.extractall(unzipped)
    return out / "hw3.zip", unzipped / "hw3", logs


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
        "hw3/neural_networks/iris.csv",
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
    assert not [n for n in names if re.search(r"__pycache__|\.pyc$|\.DS_Store|/data/", n)
                and n not in suite]  # fmt: skip
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
    assert "torch==2.14.1" in z.read("hw3/requirements.txt").decode()


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
        package.isolated_command(
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
            package.isolated_command("-m", "unittest", *args), cwd=cwd, capture_output=True,
            text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Ran 29 tests" in out.stderr and "OK" in out.stderr and "skipped" not in out.stderr


def test_hw3_check_gradients_notebook_ran_and_runs_from_the_unzipped_folder(hw3_zip):
    import nbformat

    _, hw3, _ = hw3_zip
    shipped = json.loads((hw3 / "check_gradients.ipynb").read_text())
    text = "".join("".join(o.get("text", "")) for o in _notebook_outputs(shipped))
    assert re.search(r"(\d+) of \1 checks below 1e-7", text)  # every check printed and passed
    for check in ("relu", "softmax", "fully_connected[tanh]", "conv2d", "pool2d[max", "flatten",
                  "batchnorm1d", "cross_entropy", "l2", "dW", "dgamma"):  # fmt: skip
        assert check in text, check
    nb = nbformat.read(hw3 / "check_gradients.ipynb", as_version=4)
    package.execute_notebook(nb, hw3)  # again, in the kernel that cannot import the repository
    assert "checks below 1e-7" in "".join(o.get("text", "") for o in _notebook_outputs(nb))


def test_hw3_train_ffnn_is_the_handouts_script(hw3_zip):
    _, hw3, _ = hw3_zip
    script = (hw3 / "train_ffnn.py").read_text()
    for call in ("AttrDict(", "layer_args = [", "optimizer_args = AttrDict(", "model_args = AttrDict(",
                 "data_args = AttrDict(", "log_args = AttrDict(", "Logger(", "initialize_model(",
                 "initialize_dataset(", "model.train(", "model.test("):  # fmt: skip
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
        members = package.build(tmp_path / "hw3.zip", logs, max_checkpoint_mb=0.01)
    assert not [m for m in members if m.endswith(".ckpt")]
    z = zipfile.ZipFile(tmp_path / "hw3.zip")
    assert (
        "over 0.01 MB and not in the archive: train.py makes them" in z.read("hw3/README").decode()
    )
    nb = json.loads(z.read("hw3/CS189_HW_NN.ipynb"))
    text = "".join("".join(o["text"]) for o in _notebook_outputs(nb) if "text" in o)
    assert "its checkpoint is not in the archive (too large); make it with" in text
    assert "python train.py --config configs/cifar_cnn.yaml" in text

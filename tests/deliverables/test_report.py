"""The write-up (deliverables/report.py): sections by question, HTML, LaTeX, PDF."""

import html
import re
import shutil
import subprocess
import sys

import pytest

from deliverables import report
from deliverables.appendix import PIECES
from tests.conftest import ROOT
from tests.deliverables.test_tex import check_balanced

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
    check_balanced(tex)
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

"""The write-up (deliverables/report.py): sections by question, HTML, LaTeX, PDF."""

import html
import re
import shutil
import subprocess
import sys

import pytest

from deliverables import report, shown
from deliverables.student import CERTIFICATION, Student
from tests.conftest import ROOT
from tests.deliverables.test_appendix import LISTINGS

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
    "References",
)
HOMEWORK_SHOWN = shown.SHOWN  # min_epochs: 8
ADA = Student("Ada Lovelace", "3030000000", ("Grace Hopper", "Alan Turing"))


@pytest.fixture(scope="module")
def one_epoch_is_full(tmp_path_factory):
    """deliverables/shown.yaml with a minimum of 1 epoch: the tiny runs count as full runs."""
    path = tmp_path_factory.mktemp("shown") / "shown.yaml"
    path.write_text(re.sub(r"min_epochs: \d+", "min_epochs: 1", shown.SHOWN.read_text()))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shown, "SHOWN", path)
        yield


@pytest.fixture(scope="module")
def built_report(tiny_runs, one_epoch_is_full, tmp_path_factory):
    """A final report (a name, full runs) with its answers written to answers.md."""
    _, experiments, logs = tiny_runs
    base = tmp_path_factory.mktemp("report")
    out, answers = base / "report", base / "answers.md"
    r = report.build(out, experiments, logs, ROOT / "docs", who=ADA, answers=answers)
    assert r["written"] and not r["missing"]
    return out, r


MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", flags=re.S)
CODE = re.compile(r"^```.*?^```[ \t]*$|`[^`\n]+`", flags=re.S | re.M)


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
    # each appendix page holds its question's code, the files as shipped in hw3/
    assert re.search(
        r"## Appendix 3.1 Activation functions\n+### `neural_networks/activations.py`", md
    )
    assert md.count("```python") + md.count("```yaml") == LISTINGS
    assert "numpy_nn" not in md  # the shipped name, everywhere
    for name in ("report.html", "report.tex"):
        assert "numpy_nn" not in (out / name).read_text(), name


def test_report_html_is_typeset_self_contained_and_paged(built_report):
    out, _ = built_report
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert page.count("data:image/png;base64,") == len(images)
    assert not re.search(r'src="(?!data:)', page) and "<script" not in page  # self-contained
    # every formula typeset as MathML; no LaTeX left outside code
    formulas = MATH.findall(CODE.sub("", md))  # the LaTeX formulas outside code
    assert len(formulas) >= 100
    assert page.count("<math") == len(formulas)
    text = _outside_code(re.sub(r"<annotation.*?</annotation>", "", page, flags=re.S))
    assert "$" not in re.sub(r"<math.*?</math>", "", text, flags=re.S)
    assert not re.search(r"\\(frac|partial|sum|mathbb|odot|sigma)\b", text)
    assert '<math display="block" xmlns="http://www.w3.org/1998/Math/MathML">' in page
    assert "\u0302</mo></mover>" in page and "^</mo></mover>" not in page  # a real hat on Y-hat
    # one page-break marker per question, extra and appendix page, each before its heading
    for heading in (*QUESTIONS, *EXTRAS, *(f"Appendix {q}" for q in QUESTIONS)):
        marker = rf'<section id="[^"]*" class="page">\n<h2>{re.escape(html.escape(heading, quote=False))}</h2>'
        assert len(re.findall(marker, page)) == 1, heading
    assert ".page{break-before:page}" in page
    assert "<table>" in page
    # the appendix's code is highlighted, one block per listing; file names keep underscores
    assert page.count('<div class="sourceCode"') == md.count("```") // 2
    assert '<span class="kw">def</span>' in page and "code span.kw" in page
    assert (
        "<strong>init</strong>" not in page and "<code>neural_networks/__init__.py</code>" in page
    )


def test_derivations_refer_to_sections_by_the_numbers_the_reader_sees(built_report):
    out, _ = built_report
    md = (out / "report.md").read_text().split("## References")[0]
    seen = set(re.findall(r"^## (\d\.\d) ", md, flags=re.M))
    seen |= set(re.findall(r"^### (\d+)\. ", md, flags=re.M))  # the later layers' derivations
    cited = re.findall(r"[Ss]ections? (\d+(?:\.\d)?)(?:(?:–|-| and | or )(\d+(?:\.\d)?))?", md)
    assert cited and all(n in seen for pair in cited for n in pair if n), (cited, seen)
    assert "Feeding section 3.4 into section 3.3" in md


def test_report_tex_has_the_same_sections_and_figures(built_report):
    out, r = built_report
    tex = (out / "report.tex").read_text()
    heads = re.findall(r"^\\section\{(.*)\}\\label", tex, flags=re.M)
    assert "\\title{" + report.TITLE + "}" in tex  # the cover page's title, then every section
    assert heads == [h for h in r["sections"][1:]]
    figures = re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{([^}]+)\}", tex)
    md_images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (out / "report.md").read_text())
    assert figures == md_images and all((out / f).exists() for f in figures)
    assert tex.count("\\clearpage") >= len(QUESTIONS) + len(EXTRAS) + len(QUESTIONS)
    fences = (out / "report.md").read_text().count("```") // 2  # the appendix
    assert tex.count("\\begin{Shaded}") == fences >= LISTINGS
    assert "\\_\\_init\\_\\_.py" in tex


@pytest.mark.skipif(
    not shutil.which("xelatex"), reason="xelatex not installed (apt-get install texlive-xetex)"
)
def test_report_tex_compiles(built_report, tmp_path):
    out, _ = built_report
    shutil.copytree(out, tmp_path / "r")
    done = subprocess.run(
        ["xelatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
        cwd=tmp_path / "r",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "r" / "report.pdf").stat().st_size > 100_000


def _report_cli(tmp_path, *flags, env=None):
    """``python -m deliverables.report`` into tmp_path/r, with no runs to report."""
    command = [sys.executable, "-m", "deliverables.report", "--output", str(tmp_path / "r")]
    command += ["--experiments", str(tmp_path / "none"), "--logs", str(tmp_path / "none")]
    command += ["--answers", str(tmp_path / "answers.md"), "--student", str(tmp_path / "s.yaml")]
    return subprocess.run([*command, *flags], capture_output=True, text=True, cwd=ROOT, env=env)


def test_report_pdf_without_chromium_names_the_package(tmp_path):
    import os

    bin_dir = tmp_path / "bin"  # a PATH with no browser on it
    bin_dir.mkdir()
    out = _report_cli(
        tmp_path, "--draft", "--allow-missing", "--pdf", env={**os.environ, "PATH": str(bin_dir)}
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
    assert "∂" in text or "\U0001d715" in text  # the derivations are there, typeset (italic ∂)


def test_report_names_the_missing_command(tmp_path):
    out = _report_cli(tmp_path, "--name", "Ada Lovelace")
    assert out.returncode == 2
    assert "python train_ffnn.py --sweep" in out.stderr and "configs/cifar_cnn.yaml" in out.stderr
    assert not (tmp_path / "r").exists()
    out = _report_cli(tmp_path, "--allow-missing", "--name", "Ada Lovelace")
    assert out.returncode == 0 and "Missing:" in (tmp_path / "r" / "report.md").read_text()


def test_cover_page_first_and_references_last_before_the_appendix(built_report):
    out, r = built_report
    md = (out / "report.md").read_text()
    assert md.startswith(f"# {report.TITLE}\n")
    cover = md.split("## Notation")[0]
    assert "**Name:** Ada Lovelace" in cover and "**SID:** 3030000000" in cover
    assert "**Collaborators:** Grace Hopper, Alan Turing" in cover and CERTIFICATION in cover
    assert "DRAFT" not in md
    at = r["sections"].index  # then the appendix: its contents, then question by question
    assert (
        at("References") + 1 == at("Code appendix") == at("Appendix 3.1 Activation functions") - 1
    )
    refs = md.split("## References")[1].split("## Appendix")[0]
    airbench = re.search(r"\[(\d+)\] Keller Jordan", refs).group(1)
    assert f"airbench [{airbench}]" in md.split("## 4.2")[1]  # the pointer where it is used
    assert "[@" not in md  # every citation numbered


def test_answers_are_written_once_then_the_students(built_report, tiny_runs, tmp_path):
    _, experiments, logs = tiny_runs
    out, _ = built_report
    text = (out.parent / "answers.md").read_text()
    assert re.findall(r"^## (\S+)", text, flags=re.M) == ["3.5", "4.1", "4.2"]
    md = (out / "report.md").read_text()
    assert "the test split played no part in the choice" in md.split("## 4.1")[0]  # 3.5
    assert "784 -> 1024 -> 1024 -> 10" in md.split("## 4.1")[1].split("## 4.2")[0]
    head, rest = text.split("## 4.1", 1)
    mine = tmp_path / "answers.md"
    mine.write_text(
        head
        + "## 4.1 Mine\n\nMy MLP, in my words [@dropout].\n\n## 4.2"
        + rest.split("## 4.2", 1)[1]
    )
    kept = mine.read_text()
    r = report.build(tmp_path / "r", experiments, logs, ROOT / "docs", who=ADA, answers=mine)
    md = (tmp_path / "r" / "report.md").read_text()
    assert re.search(r"My MLP, in my words \[\d+\]\.", md) and "784 -> 1024" not in md
    assert mine.read_text() == kept
    # the sections still word for word as generated are named, one line each; 4.1 is the student's
    unchanged = [n for n in r["notes"] if "is still the generated text" in n]
    assert unchanged == [
        f"{mine} {q} is still the generated text: the cover page certifies your "
        "answers are in your own words, so rewrite it there"
        for q in ("3.5", "4.2")
    ]
    assert len(r["notes"]) == 2


def test_brief_runs_are_refused_in_a_final_report_and_flagged_in_a_draft(
    tiny_runs, tmp_path, monkeypatch
):
    _, experiments, logs = tiny_runs  # 1-epoch runs; the homework asks for 8
    monkeypatch.setattr(shown, "SHOWN", HOMEWORK_SHOWN)
    with pytest.raises(
        report.UserError,
        match=r"1 epoch of the 8.*python train.py --config configs/fashion_mlp.yaml.*--draft",
    ):
        report.build(tmp_path / "final", experiments, logs, ROOT / "docs", who=ADA)
    assert not (tmp_path / "final").exists()
    report.build(tmp_path / "draft", experiments, logs, ROOT / "docs", draft=True)
    md = (tmp_path / "draft" / "report.md").read_text()
    assert "**DRAFT: not for submission.**" in md and "(no name given)" in md
    for question in ("## 4.1", "## 4.2"):
        assert "**DRAFT: a brief run: 1 epoch of the 8" in md.split(question)[1]
    flagged = tmp_path / "draft" / "fashion_mnist_mlp_loss.png"
    original = next(logs.glob("fashion_mlp/version_*/loss.png"))
    assert flagged.read_bytes() != original.read_bytes()  # redrawn, its title flagged


def test_the_comparison_is_an_extra_and_not_required(tiny_runs, tmp_path):
    base, experiments, logs = tiny_runs
    bare = tmp_path / "logs"
    shutil.copytree(logs, bare, ignore=shutil.ignore_patterns("iris_compare"))
    r = report.build(tmp_path / "r", experiments, bare, ROOT / "docs", draft=True)
    assert not r["missing"] and any("the Iris comparison not found" in n for n in r["notes"])
    assert "Extra: numpy layers inside Lightning" not in r["sections"]


def _chromium_and_poppler() -> str:
    browser = report.find_browser()
    if browser is None:
        pytest.skip("Chromium not installed: apt-get install chromium fonts-dejavu-extra")
    if not shutil.which("pdftotext") or not shutil.which("pdffonts"):
        pytest.skip("pdftotext not installed: apt-get install poppler-utils")
    return browser


def _pdf_text(pdf, *pages: str) -> str:
    command = ["pdftotext", "-layout", *pages, str(pdf), "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_report_pdf_page_one_is_the_cover_and_it_credits_its_sources(built_report, tmp_path):
    """Printed as --pdf prints it and read back: page 1 is the cover page, a references section
    lists airbench, and the math is set in a math font (a real hat on Y-hat, not a fallback
    glyph)."""
    browser = _chromium_and_poppler()
    out, _ = built_report
    report.print_pdf(out / "report.html", tmp_path / "report.pdf", browser)
    first = " ".join(_pdf_text(tmp_path / "report.pdf", "-f", "1", "-l", "1").split())
    assert first.startswith(report.TITLE)
    assert "Name: Ada Lovelace" in first and "SID: 3030000000" in first
    assert "Collaborators: Grace Hopper, Alan Turing" in first
    assert CERTIFICATION in first and "Signed (typed): Ada Lovelace" in first
    pages = _pdf_text(tmp_path / "report.pdf").split("\f")
    refs = next(p for p in pages if p.strip().startswith("References"))
    assert "Keller Jordan" in refs and "94% on CIFAR-10" in refs
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "report.pdf")], capture_output=True, text=True
    )
    assert "Math" in fonts.stdout, fonts.stdout  # the report's MathML in a math font
    # README's page count: the whole PDF, and where the code appendix starts
    said = re.search(
        r"`report.pdf` runs to about (\d+) pages: about (\d+) of answers",
        (ROOT / "docs" / "students.md").read_text(),
    )
    total, answers = int(said.group(1)), int(said.group(2))
    assert abs(len(pages) - 1 - total) <= 0.1 * total, (len(pages) - 1, total)  # a final \f
    first = next(i for i, p in enumerate(pages) if p.strip().startswith("Code appendix"))
    assert abs(first - answers) <= 3, (first, answers)


def test_a_long_code_line_wraps_under_itself_in_print(tmp_path):
    browser = _chromium_and_poppler()
    long_line = (
        "value = compute(" + ", ".join(f"argument_{i}" for i in range(14)) + ")  # " + "x" * 20
    )
    assert len(long_line) > 130
    section = report.Section("Code", f"```python\ndef f():\n    {long_line}\n    return value\n```")
    (tmp_path / "c.html").write_text(report.to_html([section], tmp_path))
    report.print_pdf(tmp_path / "c.html", tmp_path / "c.pdf", browser)
    lines = [line for line in _pdf_text(tmp_path / "c.pdf").splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "value = compute(" in line)
    end = next(i for i, line in enumerate(lines) if "return value" in line)
    indent = [len(line) - len(line.lstrip()) for line in lines[start : end + 1]]
    assert end - start >= 2 and indent[0] == indent[-1] == 4  # wrapped, and the next line as it was
    assert set(indent[1:-1]) == {8}  # each wrapped part under the line's own indent, 4 deeper

"""The code appendix (deliverables/appendix.py, python generate_submission.py)."""

import inspect
import re
import shutil
import subprocess
import sys

import pytest

from deliverables.appendix import PIECES, generate, resolve
from tests.conftest import ROOT
from tests.deliverables.test_tex import check_balanced


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


@pytest.mark.parametrize(
    "level, command", [(1, "section"), (2, "subsection"), (3, "subsubsection")]
)
def test_latex_appendix(level, command, tmp_path):
    tex = generate("latex", level)
    assert tex.startswith(f"\\{command}{{Code appendix}}")
    assert tex.count("\\begin{lstlisting}") == len(PIECES)
    check_balanced(tex)
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

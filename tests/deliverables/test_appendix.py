"""The code appendix (deliverables/appendix.py, python generate_submission.py)."""

import inspect
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deliverables.appendix import APPENDIX, generate, groups, resolve
from deliverables.shown import shown
from tests.conftest import ROOT

ITEMS = [item for _, items in APPENDIX for item in items]
LISTINGS = sum(len(items) for _, _, items in groups())

# Every project module that the commands behind the reported results load: train_ffnn.py (3.x),
# train.py with each shown experiment's classes (4.1, 4.2), predict.py (predictions.csv).
LOADED = """
import importlib, json, sys
sys.argv = ["train_ffnn.py"]
import train_ffnn, commands.train, commands.predict
from commands.cli import resolve_config
from deliverables.shown import shown

def class_paths(node):
    if isinstance(node, dict):
        if isinstance(node.get("class_path"), str):
            yield node["class_path"]
        for v in node.values():
            yield from class_paths(v)
    elif isinstance(node, list):
        for v in node:
            yield from class_paths(v)

for entry in shown():
    for path in class_paths(resolve_config(entry.config)):
        importlib.import_module(path.rpartition(".")[0])
root = sys.path[0] or "."
files = {m.__file__ for name, m in list(sys.modules.items())
         if name.split(".")[0] in ("numpy_nn", "lightning_hw", "commands", "train_ffnn")}
print(json.dumps(sorted(files)))
"""


def test_every_item_resolves():
    keys = {entry.key for entry in shown()}
    for item in ITEMS:
        if item.startswith("config:"):
            assert item.split(":", 1)[1] in keys, item
        elif item.endswith(".py"):
            assert (ROOT / item).is_file(), item
        else:
            obj = resolve(item)
            assert inspect.isclass(obj) or inspect.isfunction(obj), item
            assert f"{obj.__module__}.{obj.__qualname__}" == item  # the name says where it lives
    files = [i for i in ITEMS if i.endswith(".py")]
    assert len(files) == len(set(files))  # each file once


def test_the_appendix_holds_every_module_behind_the_results():
    out = subprocess.run(
        [sys.executable, "-c", LOADED], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = {Path(f).resolve().relative_to(ROOT).as_posix() for f in json.loads(out.stdout)}
    listed = {i for i in ITEMS if i.endswith(".py")}
    assert len(loaded) > 30
    assert loaded - listed == set()
    # a question's YAML: the shown experiment's config and its fragments, as shipped
    md = generate("markdown", 1)
    for entry in shown():
        assert f"# --- {entry.config}" in md


@pytest.mark.parametrize("level", [1, 2, 3])
def test_markdown_appendix(level):
    md = generate("markdown", level)
    h = "#" * level
    assert md.startswith(f"{h} Code appendix")
    assert len(re.findall(rf"^{h}## ", md, flags=re.M)) == LISTINGS
    assert md.count("```python") + md.count("```yaml") == LISTINGS
    assert md.count("```") == 2 * LISTINGS
    assert "class FullyConnected(WeightedLayer):" in md and "def backward(ctx, grad_out):" in md
    assert "numpy_nn" not in md and "from neural_networks.layers import" in md  # as shipped
    assert f"{h}## `train_ffnn.py` {{#code-train_ffnn.py}}" in md and "def sweep(" in md


@pytest.mark.parametrize(
    "level, command", [(1, "section"), (2, "subsection"), (3, "subsubsection")]
)
def test_latex_appendix(level, command):
    tex = generate("latex", level)
    assert tex.split("\n", 2)[2].startswith(f"\\{command}{{Code appendix}}")
    assert tex.count("\\begin{lstlisting}") == tex.count("\\end{lstlisting}") == LISTINGS
    assert "\\_\\_init\\_\\_.py" in tex  # the file names' underscores survive


def test_the_appendix_contents_link_every_listing_once():
    md = generate("markdown", 1)
    links = re.findall(r"\]\(#(code-[^)]+)\)", md)
    anchors = re.findall(r"\{#(code-[^}]+)\}$", md, flags=re.M)
    assert len(links) == len(anchors) == len(set(anchors)) == LISTINGS
    assert set(links) == set(anchors)
    shared = md.split("## Shared code")[1]  # the shared plumbing once, at the end
    assert (
        "`plumbing/files.py`" in shared
        and "`plumbing/files.py`" not in md.split("## 4.2")[1].split("## Shared")[0]
    )


@pytest.mark.skipif(
    not shutil.which("xelatex"), reason="xelatex not installed (apt-get install texlive-xetex)"
)
def test_latex_appendix_compiles(tmp_path):
    (tmp_path / "appendix.tex").write_text(generate("latex", 1))
    (tmp_path / "main.tex").write_text(
        "\\documentclass{article}\\usepackage{listings}\\usepackage{hyperref}"
        "\\begin{document}\\input{appendix}\\end{document}\n"
    )
    out = subprocess.run(
        ["xelatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
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

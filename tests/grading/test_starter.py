"""The starter is what a course hands out: the handout's files, no answer in them. No line of a
graded body of the reference (nor of a helper only graded bodies used) appears anywhere in it,
numpy_nn's project-only modules are not in it, its course tests fail once per unwritten body,
and its README says what to write and how to hand it in."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from grading import grader, starter
from grading.submission import Submission
from plumbing.handout import handout_names
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("starter")
    starter.write(folder)
    return folder


def _qualified_defs(tree: ast.Module) -> dict:
    """{"Class.method" or "function": node} of a module."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef):
                    out[f"{node.name}.{fn.name}"] = fn
    return out


def _answer_lines(made: Path) -> set:
    """Lines (stripped) of the reference's graded bodies and of the helpers the starter left
    out, that appear nowhere else in the reference: what would give an answer away."""
    answers, elsewhere, todo = set(), set(), starter.graded()
    for path in sorted((ROOT / "numpy_nn").glob("*.py")):
        text = handout_names(path.read_text())
        lines = text.splitlines()
        taken = set()
        defs = _qualified_defs(ast.parse(text))
        shipped = made / "neural_networks" / path.name
        kept = _qualified_defs(ast.parse(shipped.read_text())) if shipped.is_file() else {}
        for name, node in defs.items():
            cls, _, method = name.rpartition(".")
            graded = method in todo.get(path.name, {}).get(cls, ())
            if graded or (shipped.is_file() and name not in kept):
                first = node.body[0].lineno if graded else node.lineno
                taken |= set(range(first - 1, node.end_lineno))
        for i, line in enumerate(lines):
            (answers if i in taken else elsewhere).add(line.strip())
    return answers - elsewhere - {""}


def test_no_line_of_an_answer_is_anywhere_in_the_starter(made):
    answers = _answer_lines(made)
    assert len(answers) > 100  # the graded bodies and their helpers, hundreds of lines
    for path in made.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".ipynb", ".txt"):
            found = answers & {line.strip() for line in path.read_text().splitlines()}
            assert not found, (path.relative_to(made), sorted(found)[:5])


def test_only_the_handouts_modules_are_shipped(made):
    package = made / "neural_networks"
    for module in starter.PROJECT_ONLY:
        assert not (package / f"{module}.py").exists(), module
    assert not (package / "iris").exists() and (made / "datasets" / "iris").is_dir()
    assert {p.name for p in package.glob("*.py")} >= {
        "activations.py",
        "layers.py",
        "losses.py",
        "models.py",
        "utils.py",
        "datasets.py",
        "optimizers.py",
        "weights.py",
    }


def test_its_provided_pieces_run_and_pass(made):
    grade = grader.grade(Submission(made / "neural_networks", None), None, grader.load_config())
    provided = [r for r in grade.results if r.status == "provided"]
    assert provided and all(r.passed for r in provided), grader.table(grade)


def test_its_course_tests_fail_once_per_unwritten_body(made):
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        cwd=made,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "GeneratorExit" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR: ")]
    bodies = sum(len(m) for classes in starter.graded().values() for m in classes.values())
    assert 0 < len(errors) <= bodies, done.stderr[-3000:]
    assert len(errors) == len(set(errors))  # once each
    assert done.stderr.count("NotImplementedError") >= len(errors)
    assert "case 0: config" in done.stderr  # the failure names the case


def test_its_readme_says_what_to_write_and_how_to_hand_it_in(made):
    text = (made / "README.md").read_text()
    for module, classes in starter.graded().items():
        for cls in classes:
            assert f"`{cls}` in `neural_networks/{module}`" in text
    assert "Sigmoid" in text and "`ArcTan`" not in text  # only what is graded
    for words in ("hw3.zip", "CS189_HW_NN.ipynb", "predictions.csv", "zip -r hw3.zip hw3"):
        assert words in text, words

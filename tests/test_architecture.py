"""The shape of the code: imports run one way, numpy_nn never meets torch, importing has no side
effects, and every declared entry point exists."""

import re
import subprocess
import sys

import pytest
import tomllib

from tests.conftest import ROOT

PACKAGES = ["numpy_nn", "lightning_hw", "commands", "deliverables", "grading", "plumbing"]
CYCLES_TOOL = ROOT.parent / "shared" / "tools" / "import_cycles.py"


@pytest.mark.skipif(not CYCLES_TOOL.exists(), reason=f"{CYCLES_TOOL} not found")
def test_no_import_cycles():
    out = subprocess.run(
        [sys.executable, str(CYCLES_TOOL), ".", *PACKAGES, "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert " 0 import cycles" in out.stdout, out.stdout


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_numpy_nn_imports_no_torch():
    code = (
        "import sys, numpy_nn.experiment, numpy_nn.gradcheck, numpy_nn.logs, numpy_nn.fashion_cnn\n"
        "from numpy_nn.layers import initialize_layer\n"
        "[initialize_layer(n) for n in ('flatten', 'batchnorm2d', 'dropout')]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning_hw')))"
    )
    assert _run(code) == "[]"


@pytest.mark.parametrize(
    "modules",
    [
        "commands.train",  # what train.py imports: must stay light, torch is not loaded yet
        "lightning_hw, lightning_hw.classifier, lightning_hw.callbacks, commands.cli, "
        "commands.compare, commands.predict, deliverables.report, deliverables.package",
    ],
)
def test_importing_changes_no_environment_or_warning_filter(modules):
    libraries = "torch, pytorch_lightning, pytorch_lightning.cli, torchmetrics, yaml, numpy"
    preload = f"import {libraries}\n" if modules != "commands.train" else ""
    code = (
        "import os, sys, warnings\n"
        f"{preload}"  # third-party libraries may set their own filters; ours may not
        "env, filters = dict(os.environ), list(warnings.filters)\n"
        f"import {modules}\n"
        "changed = sorted(k for k in os.environ.keys() | env.keys() if os.environ.get(k) != env.get(k))\n"
        "print(changed, warnings.filters == filters, 'torch' in sys.modules)"
    )
    changed, same_filters, torch_loaded = _run(code).rsplit(" ", 2)
    assert changed == "[]" and same_filters == "True"
    if modules == "commands.train":
        assert torch_loaded == "False"


def test_every_declared_entry_point_is_a_function():
    import importlib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert {"nn-train", "nn-predict", "nn-train-ffnn", "nn-report", "nn-package"} <= set(scripts)
    for name, target in scripts.items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name


def _sources(*folders: str):
    """Our Python modules (tests aside), with their paths relative to the repository."""
    roots = [ROOT / f for f in folders] if folders else [ROOT]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith((".venv/", "tests/", "build/")):
                yield rel, path.read_text()


@pytest.mark.parametrize(
    "pattern, home",
    [
        (r"(?<!_)version_", "lightning_hw/runs.py"),  # the run folders (not __version__)
        (r"last\.ckpt", "lightning_hw/runs.py"),
        (r"torch\.load\(", "lightning_hw/checkpoints.py"),
    ],
)
def test_the_run_layout_and_checkpoint_reading_live_in_one_module_each(pattern, home):
    import re

    found = [rel for rel, text in _sources() if re.search(pattern, text)]
    assert found == [home]


def test_predict_names_no_dataset():
    """A new dataset needs no edit to commands/: predict.py asks the checkpoint's DataModule."""
    import re

    text = (ROOT / "commands" / "predict.py").read_text()
    assert not re.findall(r"cifar|fashion|mnist|iris", text, flags=re.I)


def test_no_function_in_commands_or_deliverables_is_longer_than_50_lines():
    import ast

    long = [
        f"{rel}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for rel, text in _sources("commands", "deliverables", "grading")
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 50
    ]
    assert not long


def test_the_numpy_commands_import_no_torch():
    """train_ffnn.py, train_cnn.py and nn-gradcheck go through commands/ (its one error policy)
    and still never load torch or Lightning."""
    code = (
        "import sys, commands.ffnn, commands.cnn, commands.gradcheck\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pytorch_lightning')))"
    )
    assert _run(code) == "[]"


def test_the_grader_never_imports_a_students_package():
    """Student code runs only in grading/child.py's subprocess: no grading module but child.py
    names the package students hand in (neural_networks)."""
    imports = r"^\s*(from|import) neural_networks|import_module\([\"']neural_networks"
    offenders = [
        rel
        for rel, text in _sources("grading")
        if not rel.endswith("child.py") and re.search(imports, text, flags=re.M)
    ]
    assert not offenders


def _imported(folder: str) -> set[str]:
    """The top-level packages of ours that the modules under ``folder`` import."""
    import ast

    ours = {"numpy_nn", "lightning_hw", "commands", "deliverables", "grading", "plumbing", "bench"}
    found = set()
    for _, text in _sources(folder):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found & ours


def test_the_ground_floor_imports_nothing_above_it():
    assert _imported("plumbing") <= {"plumbing"}


def test_grading_uses_only_numpy_nn_and_the_ground_floor():
    """Its Gradescope bundle is grading, the reference and the ground floor: nothing else."""
    assert _imported("grading") <= {"grading", "numpy_nn", "plumbing"}


def test_shared_plumbing_comes_from_the_ground_floor_only():
    """Atomic files, the data directory and the YAML reader have one home each, in plumbing/:
    no module imports them from a floor above (numpy_nn, which ships alone, keeps its own)."""
    shared = r"(atomic_path|write_json|write_text|write_bytes|output_file|output_folder|no_new_empty_folders|resolve_data_dir|DataMissingError)"
    offenders = [
        rel
        for folder in ("commands", "deliverables", "grading", "bench", "lightning_hw")
        for rel, text in _sources(folder)
        if re.search(rf"^\s*from (?!plumbing\.)[\w.]+ import [^\n]*\b{shared}\b", text, flags=re.M)
    ]
    assert not offenders
    readers = [
        rel
        for folder in ("commands", "deliverables", "grading", "bench")
        for rel, text in _sources(folder)
        if re.search(r"^def read\(", text, flags=re.M)
    ]
    assert not readers, readers  # settings files: plumbing.settings.read


def test_one_module_reads_experiment_yaml():
    """Experiment files and the config a run saved are read in commands/configs.py alone
    (``Experiment``, ``run_config``), through the one YAML reader, plumbing.settings. (grading,
    which ships without commands/, reads its own settings and Gradescope's metadata.)"""
    parses = r"\byaml\.(safe_)?load\("
    floors = ("commands", "deliverables", "bench", "lightning_hw")
    parsers = [rel for f in floors for rel, text in _sources(f) if re.search(parses, text)]
    assert not parsers, parsers
    settings = [rel for rel, text in _sources("commands") if "plumbing.settings" in text]
    assert settings == ["commands/configs.py"]
    opens = r"(config\.yaml|\"configs\").*\b(read_text|read|open)\("
    readers = [
        rel
        for f in floors
        for rel, text in _sources(f)
        if rel != "commands/configs.py" and re.search(opens, text)
    ]
    assert not readers, readers


def test_the_hand_in_calls_functions_with_typed_arguments():
    """deliverables/handin.py runs each step through a function taking its values (ffnn.run,
    compare.run, train.train, report.make, package.make), never another command's ``main``
    with an argv rebuilt from them."""
    text = (ROOT / "deliverables" / "handin.py").read_text()
    assert not re.findall(r"\b\w+\.main\(", text)


README_LINES = 150  # README: what it is, the two commands, results, a map; the rest in docs/


def test_readme_is_short_and_every_link_in_it_and_docs_resolves():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)  # code blocks
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            where = (page.parent / path).resolve() if path else page
            if not where.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def _anchors(page) -> set[str]:
    """GitHub's ids for a Markdown page's headings."""
    heads = re.findall(
        r"^#+ (.+)$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M), flags=re.M
    )
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


# Tables aligned on purpose, kept out of the formatter: the appendix's listing of files per
# question, and the course fixtures' generator (each fixture's shapes one row).
FORMATTER_EXEMPT = {"deliverables/appendix.py", "tests/course/generate_fixtures.py"}


def test_the_formatter_formats_everything_but_the_aligned_tables():
    marker = "fmt: " + "skip"  # spelled apart: this file is not one of them
    marked = {
        path.relative_to(ROOT).as_posix()
        for path in ROOT.rglob("*.py")
        if not path.relative_to(ROOT).as_posix().startswith((".venv/", "build/"))
        and marker in path.read_text()
    }
    assert marked <= FORMATTER_EXEMPT, marked - FORMATTER_EXEMPT

"""docs/claims.md names, for each promise of the README, the test that backs it (and
docs/numpy_cnns.md for its own statements): every test they name exists."""

import ast
import re

from tests.conftest import ROOT


def test_every_named_test_exists():
    text = (ROOT / "docs" / "claims.md").read_text() + (ROOT / "docs" / "numpy_cnns.md").read_text()
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(named) >= 20
    for path, name in named:
        tree = ast.parse((ROOT / path).read_text())
        functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in functions, f"{path}::{name} (named in docs/) does not exist"


def _row(text: str, first_cell: str) -> list[str]:
    """The cells of the Markdown table row that starts with ``first_cell``."""
    line = next(x for x in text.splitlines() if x.startswith(f"| {first_cell} |"))
    return _cells(line)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _data_rows(section: str) -> list[list[str]]:
    """The cells of every row of a section's Markdown table, header and rule left out."""
    table = [x for x in section.splitlines() if x.startswith("|")]
    return [_cells(x) for x in table[2:]]


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min {seconds % 60} s"


def test_the_same_runs_give_the_same_numbers_everywhere():
    """A measured figure lives on the page that measured it (docs/benchmarks.md for make bench's
    runs): README's results table quotes it as it is there, docs/cifar_cnn.md links to it
    instead of copying it, and the configs quote none."""
    bench = (ROOT / "docs" / "benchmarks.md").read_text()
    readme = (ROOT / "README.md").read_text()
    cifar_doc = (ROOT / "docs" / "cifar_cnn.md").read_text()
    for config in ("cifar_cnn", "cifar_cnn94"):
        b = _row(bench.split("## 4.")[1], f"`{config}.yaml`")
        accuracy, wall = f"{float(b[4]):.2%}", int(b[5].removesuffix(" s"))
        assert f"{accuracy} in {_minutes(wall)}" in readme, config
        assert accuracy not in cifar_doc and f"{wall} s" not in cifar_doc, config
    assert "benchmarks.md#4-cifar-10-cnn" in cifar_doc
    rows = _data_rows(bench.split("## 3.")[1].split("\n## ")[0])  # the Fashion MLP, 3 seeds
    seed, epochs, _, _, accuracy, wall = rows[0]  # the config's own seed
    mlp_config = (ROOT / "configs" / "fashion_mlp.yaml").read_text()
    assert seed == "0" and "seed_everything: 0" in mlp_config
    assert f"max_epochs: {epochs} " in mlp_config
    assert f"MLP, {float(accuracy):.1%} in {wall} on 2 cores" in readme
    # the numpy-backed CNNs: README quotes each config's latest run in docs/numpy_cnns.md
    numpy_doc = (ROOT / "docs" / "numpy_cnns.md").read_text()
    for name, config in (("Fashion", "fashion_cnn_numpy"), ("CIFAR-10", "cifar_cnn_numpy")):
        row = next(r for r in numpy_doc.splitlines() if r.startswith(f"| `configs/{config}.yaml`"))
        bold = re.findall(r"\*\*([^*]+)\*\*", row)
        assert f"{name} {bold[0]} in {bold[1]}" in readme, (name, row)


def test_readme_names_the_host_each_benchmark_figure_was_measured_on():
    """README quotes a docs/benchmarks.md section's figures with the machine that section was
    measured on (its "*Measured <date> on <CPU> (" line), so a figure from an older host cannot
    stay quoted as this one's."""
    bench = (ROOT / "docs" / "benchmarks.md").read_text()
    readme = (ROOT / "README.md").read_text()
    quoted = re.findall(r"^(\|.*\| \[docs/benchmarks\.md\][^|]*section (\d+) \|)$", readme, re.M)
    assert len(quoted) >= 4
    for line, number in quoted:
        section = bench.split(f"\n## {number}. ")[1]
        cpu = re.search(r"\*Measured [\d-]+ on (.+?) \(", section).group(1)
        host = cpu.replace("(R)", "").replace(" Processor", "").strip()
        assert host in _cells(line)[1], (number, host, line)


def test_configs_quote_no_measured_result_and_name_where_it_is():
    """A config states its goal and its reasons; its accuracy and wall time live on one page,
    which its header names (and which exists)."""
    result = re.compile(r"\d+\.\d+% (test accuracy )?in \d+ (s|min)|of wall time")
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        header = "".join(line for line in path.read_text().splitlines(True) if line.startswith("#"))
        assert not result.search(path.read_text()), path.name
        for page in re.findall(r"docs/[\w.]+\.md", header):
            assert (ROOT / page).is_file(), (path.name, page)
    for name in ("cifar_cnn", "cifar_cnn94", "cifar_cnn_numpy", "fashion_cnn_numpy", "fashion_mlp"):
        assert "accuracy and wall time" in (ROOT / "configs" / f"{name}.yaml").read_text(), name

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

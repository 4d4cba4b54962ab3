"""The benchmarks run where the data is missing: their image sections are skipped with a
message (the benchmarks themselves never run in the tests)."""

import subprocess
import sys

from tests.conftest import ROOT


def test_image_sections_skip_without_data(tmp_path):
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "fashion,cifar", "--cifar",
         "--data_dir", str(tmp_path / "none"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fashion: skipped, FashionMNIST/ is not in" in proc.stdout
    assert "cifar: skipped, cifar-10-batches-py/ is not in" in proc.stdout
    assert out.read_text().startswith("# Benchmarks")

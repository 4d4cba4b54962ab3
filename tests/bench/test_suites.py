"""The benchmarks run where the data is missing: their image sections are skipped with a
message (the benchmarks themselves never run in the tests)."""

import datetime
import subprocess
import sys

from bench import accuracy, eager, machine, steps
from tests.conftest import ROOT


def test_image_sections_skip_without_data(tmp_path):
    out = tmp_path / "benchmarks.md"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--only",
            "fashion,cifar",
            "--cifar",
            "--data_dir",
            str(tmp_path / "none"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fashion: skipped, FashionMNIST/ is not in" in proc.stdout
    assert "cifar: skipped, cifar-10-batches-py/ is not in" in proc.stdout
    assert out.read_text().startswith("# Benchmarks")


def test_each_section_carries_its_date_and_cpu():
    import datetime

    text = machine.dated("## 4. CIFAR-10 CNN\n\n| a |\n|---|")
    heading, blank, stamp, *rest = text.splitlines()
    assert heading == "## 4. CIFAR-10 CNN" and blank == ""
    assert stamp.startswith(f"*Measured {datetime.date.today()} on {machine.cpu_model()} (")
    assert rest == ["", "| a |", "|---|"]


def test_the_speed_reference_is_taken_and_stated():
    """Beside every timing, a yardstick that runs none of our code: a fixed GEMM and a fixed
    torch convolution step, in ms; ``python -m bench --reference`` prints it alone."""

    reference = machine.speed_reference(repeats=1)
    assert set(reference) == {"gemm_ms", "conv_ms"} and all(v > 0 for v in reference.values())
    stamp = machine.dated("## 6. x\n\nbody", reference).splitlines()[2]
    assert stamp.endswith(
        f"; machine-speed reference just before: 1024^3 GEMM {reference['gemm_ms']:.1f} ms, "
        f"torch conv step {reference['conv_ms']:.1f} ms.*"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--reference"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("machine-speed reference: 1024^3 GEMM")


def test_cpu_features_name_what_decides_our_speeds():

    text = machine.cpu_features()
    named = [f for f in machine.FEATURES if f in text]
    assert text.startswith(("has ", "features unknown")) and (
        named == list(machine.FEATURES) or text.startswith("features unknown")
    )


def test_benchmarks_md_dates_every_section_and_names_the_cpu():
    """docs/benchmarks.md as committed: the CPU and its features at the top, and every numbered
    section says when and on what it was measured (sections are rerun one by one)."""
    import re

    text = (ROOT / "docs" / "benchmarks.md").read_text()
    assert re.search(r"^- CPU: .+, \d+ cores; (has|features unknown)", text, re.M)
    sections = re.split(r"^## ", text.split("## Before and after")[0], flags=re.M)[1:]
    assert len(sections) >= 9
    for section in sections:
        heading, body = section.split("\n", 1)
        stamp = re.match(r"\s*\*Measured (\d{4}-\d\d-\d\d) on .+ cores\)(; .+)?\.\*", body)
        assert stamp, heading
        if stamp.group(1) >= "2026-12-02":  # since issue 32, beside every timing: the reference
            reference = r"; machine-speed reference just before: 1024\^3 GEMM [\d.]+ ms, torch"
            assert re.match(reference, stamp.group(2) or ""), heading


def test_cifar_section_keeps_the_rows_of_configs_it_did_not_train(monkeypatch):
    """`--cifar` retrains the default config only: the >= 94% row stays, with its own date."""

    run = {
        "history": {"val/acc": [0.5, 0.91], "seconds": [10.0, 12.0]},
        "test": {"test/acc": 0.9321},
        "wall": 30.4,
    }
    trained = []
    monkeypatch.setattr(
        accuracy, "_train_config", lambda config, data_dir, extra=(): trained.append(config) or run
    )
    earlier = (ROOT / "docs" / "benchmarks.md").read_text().split("\n## 4. ")[1].split("\n## ")[0]
    earlier_rows = accuracy._rows_by_config("## 4. " + earlier)
    assert set(earlier_rows) == set(accuracy.CIFAR_CONFIGS)
    old = (
        "## 4. CIFAR-10 CNN\n\n*Measured 2026-11-26 on X (x86_64, 2 cores).*\n\n"
        "| config | epochs | a | b | c | d |\n|---|---:|---:|---:|---:|---:|\n"
        "| `cifar_cnn.yaml` | 8 | 344 s | 302 s | 0.9361 | 366 s |\n"
        "| `cifar_cnn94.yaml` | 18 | 752 s | 587 s | 0.9453 | 776 s |"
    )
    today = datetime.date.today()
    for previous, cifar94 in ((old, False), (accuracy.cifar(previous={"## 4. ": old}), False)):
        text = accuracy.cifar(previous={"## 4. ": previous}, cifar94=cifar94)
        rows = [x for x in text.splitlines() if x.startswith("| `")]
        assert rows == [
            f"| `cifar_cnn.yaml` | 2 | 22 s | 22 s | 0.9321 | 30 s | {today} |",
            "| `cifar_cnn94.yaml` | 18 | 752 s | 587 s | 0.9453 | 776 s | 2026-11-26 |",
        ]
    assert trained == ["cifar_cnn.yaml"] * 3
    text = accuracy.cifar(previous={"## 4. ": old}, cifar94=True)
    assert f"| `cifar_cnn94.yaml` | 2 | 22 s | 22 s | 0.9321 | 30 s | {today} |" in text
    assert trained[-2:] == list(accuracy.CIFAR_CONFIGS)
    assert "cifar_cnn94" not in accuracy.cifar(previous={}), "no earlier row: none is made up"


def test_numpy_step_without_update_runs_forward_and_backward_only():
    """Benchmark 1's last column times numpy_nn without its SGD step: the weights must stay put
    there (and move in the full step), with the gradients computed in both."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 6))
    Y = np.eye(3)[rng.integers(3, size=8)]
    for update in (True, False):
        run = eager.numpy_step_fn((6, 5, 3), np.float32, X, Y, steps=2, update=update)
        run.model.forward(X.astype(np.float32))  # build the layers lazily, as the first step would
        before = [layer.parameters["W"].copy() for layer in run.model.layers]
        run()
        moved = [
            not np.array_equal(b, layer.parameters["W"])
            for b, layer in zip(before, run.model.layers)
        ]
        assert moved == [update] * 2
        # the full step clears the gradients after using them; without it they stay as computed
        computed = [bool(np.any(layer.gradients["W"])) for layer in run.model.layers]
        assert computed == [not update] * 2


def test_the_profile_times_every_layer_and_its_products():
    """Section 11: a row per layer of the config, products only for the layers that make them."""
    from commands.cli import resolve_config

    rows = steps._profile_layers("fashion_cnn_numpy.yaml", 8, repeats=1)
    specs = resolve_config(str(machine.ROOT / "configs/fashion_cnn_numpy.yaml"))["model"]["network"]
    assert [r[0] for r in rows] == [s["name"] for s in specs["init_args"]["layers"]]
    for name, _, forward, backward, products in rows:
        assert forward > 0 and backward > 0
        assert (products > 0) == (name in ("conv2d", "fully_connected")), name


def test_the_twin_step_times_both_backends_of_each_profiled_config(monkeypatch):
    """Section 12: one row per numpy-backed config, the numpy-backed step and its torch twin's;
    the before (``twin_rows_before``, its own process) with numpy_nn's passes in one piece and
    without sharing products out."""
    from numpy_nn import threads

    monkeypatch.setattr(steps, "CNN_CONFIGS", {"Fashion CNN (x)": ("fashion_cnn_numpy.yaml", 8)})
    [(label, batch, ours, theirs)] = steps.twin_rows(repeats=1, block=2)
    assert (label, batch) == ("Fashion CNN (x)", 8) and ours > 0 and theirs > 0
    monkeypatch.setattr(threads, "MIN_BYTES", threads.MIN_BYTES)
    monkeypatch.setattr(threads, "BLAS_ONE_CORE", True)
    [(_, _, before, twin)] = steps.twin_rows(before=True, repeats=1, block=2)
    assert before > 0 and twin > 0
    assert threads.MIN_BYTES > 1 << 60 and not threads.BLAS_ONE_CORE


def test_the_algorithm_section_times_both_ways_each_3x3_convolution(monkeypatch):
    """Section 14: a row per 3x3 stride-1 conv2d of each config, im2col's and Winograd's times
    and what the config chose."""
    from bench import conv_algorithms

    monkeypatch.setattr(
        conv_algorithms, "CNN_CONFIGS", {"Fashion CNN (x)": ("fashion_cnn_numpy.yaml", 4)}
    )
    rows = conv_algorithms.algorithm_rows(repeats=1, block=2)
    assert [r[:2] for r in rows] == [("Fashion CNN (x)", 0), ("Fashion CNN (x)", 3)]
    assert rows[0][2] == [28, 28, 1] and rows[1][2:4] == ([14, 14, 16], 32)
    assert all(r[4] == "im2col" and r[5] > 0 and r[6] > 0 for r in rows)


def test_numpy_cnn_configs_section_trains_each_with_its_reference(monkeypatch, tmp_path):
    """Section 13: the Fashion config always, the CIFAR-10 one (two seeds) only with --cifar
    (else its last rows stay, a row from before the seed column read as seed 0); each row
    carries its seed and the speed reference taken right before its run."""

    run = {
        "history": {"val/acc": [0.9, 0.93], "seconds": [70.0, 71.0]},
        "test": {"test/acc": 0.9301},
        "wall": 160.2,
    }
    trained = []
    monkeypatch.setattr(
        accuracy,
        "_train_config",
        lambda config, data_dir, extra=(): trained.append((config, *extra)) or run,
    )
    monkeypatch.setattr(accuracy, "speed_reference", lambda: {"gemm_ms": 9.5, "conv_ms": 44.0})
    old = (
        "## 13. x\n\n| config | a |\n|---|---|\n| `cifar_cnn_numpy.yaml` | 12 | 0.8873 | 1536 s "
        "| 1597 s | g | r | 2026-11-26 |"
    )
    text = accuracy.numpy_cnns(previous={"## 13.": old})
    rows = [x for x in text.splitlines() if x.startswith("| `")]
    assert rows == [
        f"| `fashion_cnn_numpy.yaml` | 0 | 2 | 0.9301 | 141 s | 160 s | >= 92.8% in <= 3 min | "
        f"1024^3 GEMM 9.5 ms, torch conv step 44.0 ms | {datetime.date.today()} |",
        "| `cifar_cnn_numpy.yaml` | 0 | 12 | 0.8873 | 1536 s | 1597 s | g | r | 2026-11-26 |",
    ]
    assert trained == [("fashion_cnn_numpy.yaml", "--seed_everything", "0")]
    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)
    text = accuracy.numpy_cnns(data_dir=str(data), cifar=True, previous={"## 13.": old})
    assert [(c, s) for c, _, s in trained[1:]] == [
        ("fashion_cnn_numpy.yaml", "0"),
        ("cifar_cnn_numpy.yaml", "0"),
        ("cifar_cnn_numpy.yaml", "1"),
    ]
    assert "2026-11-26" not in text and "| `cifar_cnn_numpy.yaml` | 1 | 2 |" in text

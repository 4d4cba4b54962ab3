"""precision: auto picks what the hardware runs natively; an explicit precision wins."""

import subprocess
import sys

import pytest

from commands.cli import train
from lightning_hw import precision as P
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar, make_cifar

CPUINFO = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f {extra}\n"


@pytest.mark.parametrize(
    "extra, found", [("", set()), ("avx512_bf16", {"avx512_bf16"}), ("amx_bf16 x", {"amx_bf16"})]
)
def test_cpu_flags(extra, found):
    assert P.cpu_bf16_flags(CPUINFO.format(extra=extra)) == found


@pytest.mark.parametrize(
    "cap, flags, fast",
    [
        (None, {"avx512_bf16"}, True),
        (None, set(), False),
        ("AVX2", {"avx512_bf16", "amx_bf16"}, False),
        ("AVX512_CORE", {"avx512_bf16"}, False),  # mkldnn still says "bf16 supported" here
        ("AVX512_CORE_BF16", {"avx512_bf16"}, True),
    ],
)
def test_onednn_cap_and_flags_decide_native_bf16(monkeypatch, cap, flags, fast):
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    monkeypatch.setattr(P, "cpu_bf16_flags", lambda: flags)
    assert P.native_cpu_bf16()[0] is fast


def test_auto_on_the_cpu():
    assert P.auto_precision("cpu", probe=lambda: (False, "no"))[0] == "32-true"
    assert P.auto_precision("cpu", probe=lambda: (True, "yes"))[0] == "bf16-mixed"
    assert P.auto_precision("cpu", backend="numpy", probe=lambda: (True, "yes"))[0] == "32-true"


def test_auto_on_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (7, 5))
    assert P.auto_precision("gpu")[0] == "16-mixed"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    assert P.auto_precision("cuda")[0] == "bf16-mixed"


def _tiny_cifar(tmp_path, monkeypatch, *extra):
    accept_fake_cifar(monkeypatch)
    data = make_cifar(tmp_path / "data")
    return train(
        [
            "--config",
            str(ROOT / "configs/cifar_cnn.yaml"),
            "--trainer.enable_progress_bar",
            "false",
            "--model.network.init_args.widths",
            "[8, 8, 8]",
            "--trainer.fast_dev_run",
            "1",
            "--data.init_args.batch_size",
            "16",
            "--data.init_args.data_dir",
            str(data),
            *extra,
        ]
    )


def test_forced_no_bf16_gives_32_true_and_is_stated(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(P, "native_cpu_bf16", lambda: (False, "forced by the test"))
    r = _tiny_cifar(tmp_path, monkeypatch)
    assert r["trainer"].precision == "32-true"
    assert "precision auto -> 32-true: forced by the test" in capsys.readouterr().out


def test_explicit_precision_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(P, "native_cpu_bf16", lambda: (False, "forced by the test"))
    r = _tiny_cifar(tmp_path, monkeypatch, "--trainer.precision", "bf16-mixed")
    assert r["trainer"].precision == "bf16-mixed"


def test_the_choice_is_recorded_in_the_runs_config(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--config",
            str(ROOT / "configs/iris_torch.yaml"),
            "--trainer.precision",
            "auto",
            "--trainer.max_epochs",
            "1",
            "--trainer.enable_progress_bar",
            "false",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    stated = next(line for line in proc.stdout.splitlines() if line.startswith("precision auto"))
    choice = stated.split("-> ", 1)[1].split(":")[0]
    (saved,) = (tmp_path / "lightning_logs").glob("iris_torch/version_0/config.yaml")
    assert f"precision: {choice}" in saved.read_text()

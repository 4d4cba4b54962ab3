"""bench.cifar_ablation: each variant changes the one ingredient its row names, and a run of the
whole table works end to end (here on fake CIFAR files, one epoch, on the CPU)."""

from bench import cifar_ablation
from commands.cli import resolve_config
from lightning_hw.callbacks import Lookahead
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import make_cifar


def _flat(config: dict, prefix="") -> dict:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_each_variant_changes_one_setting_of_the_default_config():
    config = resolve_config(str(ROOT / "configs" / "cifar_cnn.yaml"))
    base = _flat(config)
    assert base["data.init_args.flip"] == "alternating"  # the baseline is today's default
    for name, change in cifar_ablation.VARIANTS.items():
        changed = _flat(cifar_ablation.variant_config(config, change))
        differ = {k for k in base if base[k] != changed[k]}
        if not change or set(change) <= {"whiten_images", "lookahead"}:
            assert differ == set(), name  # the baseline; callbacks are changed at run time
        else:
            assert len(differ) == 1, (name, differ)


def test_the_whole_table_runs_and_only_one_variant_adds_lookahead(tmp_path, monkeypatch):
    data = make_cifar(tmp_path / "data", per_batch=20, n_test=20)
    started = []
    start = Lookahead.on_fit_start
    monkeypatch.setattr(
        Lookahead, "on_fit_start", lambda self, *a: (started.append(self), start(self, *a))
    )
    out = tmp_path / "ablation.md"
    argv = [
        "--data_dir",
        str(data),
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--subset-ok",
        "--precision",
        "32-true",
        "--out",
        str(out),
    ]
    assert cifar_ablation.main(argv) == 0
    table = out.read_text()
    for name in cifar_ablation.VARIANTS:
        assert f"| {name} |" in table
    assert len(started) == 1

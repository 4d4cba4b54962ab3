"""Runs the deliverables are built from: numpy_nn runs, the Iris comparison and 1-epoch
Fashion-MNIST and CIFAR-10 runs on fake data, made once per session; and hw3.zip built from them."""

import zipfile

import pytest

from deliverables import package
from tests.conftest import ROOT
from tests.lightning_hw.fake_data import accept_fake_cifar, make_cifar, make_fashion


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """numpy_nn runs, the Iris comparison and 1-epoch Fashion/CIFAR runs on fake data."""
    from commands.cli import train
    from commands.compare import compare
    from numpy_nn.experiment import DEFAULTS, sweep
    from train_ffnn import train as run

    base = tmp_path_factory.mktemp("runs")
    experiments, logs = base / "experiments", base / "lightning_logs"
    run(DEFAULTS, save_dir=str(experiments))
    sweep(
        run, DEFAULTS.__class__(epochs=3), lrs=(0.01, 0.1), hidden=(5,), save_dir=str(experiments)
    )
    (base / "cmp.yaml").write_text(
        f"runs: {{numpy: {ROOT}/configs/iris_numpy.yaml, torch: {ROOT}/configs/iris_torch.yaml}}\n"
        f"output_dir: {logs}/iris_compare\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # the compared configs log under ./lightning_logs
        compare(str(base / "cmp.yaml"), epochs=2)
    with pytest.MonkeyPatch.context() as mp:
        accept_fake_cifar(mp)
        quiet = [
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger.init_args.save_dir",
            str(logs),
            "--trainer.max_epochs",
            "1",
            "--data.init_args.batch_size",
            "32",
        ]
        train(
            [
                "--config",
                str(ROOT / "configs/fashion_mlp.yaml"),
                *quiet,
                "--data.init_args.data_dir",
                str(make_fashion(base / "fashion")),
            ]
        )
        train(
            [
                "--config",
                str(ROOT / "configs/cifar_cnn.yaml"),
                *quiet,
                "--data.init_args.data_dir",
                str(make_cifar(base / "cifar")),
                "--model.network.init_args.widths",
                "[8, 8, 8]",
                "--trainer.precision",
                "32-true",
            ]
        )
        yield base, experiments, logs


@pytest.fixture(scope="session")
def hw3_zip(tiny_runs, tmp_path_factory):
    """hw3.zip built from the tiny runs, unzipped into an empty folder outside the repository."""
    _, _, logs = tiny_runs
    out = tmp_path_factory.mktemp("zip")
    with pytest.MonkeyPatch.context() as mp:
        accept_fake_cifar(mp)
        members = package.build(out / "hw3.zip", logs, draft=True)  # 1-epoch runs: a draft
    unzipped = tmp_path_factory.mktemp("unzipped")
    assert not ROOT.resolve().is_relative_to(unzipped) and not unzipped.is_relative_to(ROOT)
    with zipfile.ZipFile(out / "hw3.zip") as z:
        assert sorted(z.namelist()) == sorted(members)
        z.extractall(unzipped)
    return out / "hw3.zip", unzipped / "hw3", logs

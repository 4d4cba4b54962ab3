from pathlib import Path

from plumbing.paths import resolve_data_dir


def test_explicit_then_env_then_default(monkeypatch):
    monkeypatch.delenv("DATA_DIR", raising=False)
    assert resolve_data_dir() == Path("data")
    monkeypatch.setenv("DATA_DIR", "/tmp/somewhere")
    assert resolve_data_dir() == Path("/tmp/somewhere")
    assert resolve_data_dir("mine") == Path("mine")


def test_shared_data_is_found_for_tests(fashion_dir, cifar_dir):
    assert (fashion_dir / "FashionMNIST" / "raw").is_dir()
    assert (cifar_dir / "cifar-10-batches-py").is_dir()

"""plumbing/files.py (through lightning_hw): outputs checked before work, atomic writes, no empty folders left behind."""

import pytest

from plumbing.files import no_new_empty_folders


def test_a_failure_leaves_no_new_empty_folder(tmp_path):
    (tmp_path / "kept").mkdir()
    target = tmp_path / "a" / "b" / "data"
    with pytest.raises(RuntimeError), no_new_empty_folders(target):
        (target / "FashionMNIST" / "raw").mkdir(parents=True)
        (tmp_path / "kept" / "new").mkdir()  # outside the target: not its business
        raise RuntimeError("download failed")
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "kept" / "new").is_dir()


def test_what_existed_or_holds_files_stays(tmp_path):
    data = tmp_path / "data"
    (data / "old").mkdir(parents=True)
    with pytest.raises(RuntimeError), no_new_empty_folders(data):
        (data / "new" / "raw").mkdir(parents=True)
        (data / "part").mkdir()
        (data / "part" / "file.gz").write_bytes(b"x")
        raise RuntimeError("download failed")
    assert sorted(p.name for p in data.iterdir()) == ["old", "part"]


def test_success_keeps_everything(tmp_path):
    with no_new_empty_folders(tmp_path / "data"):
        (tmp_path / "data" / "raw").mkdir(parents=True)
    assert (tmp_path / "data" / "raw").is_dir()

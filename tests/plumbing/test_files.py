"""plumbing/files.py: a full disk, a read-only folder or a refused permission is one line naming
the path; nothing half-written is left (atomic_path, staged_folder); an output is checked first."""

import errno
import os

import pytest

from plumbing.errors import run_main
from plumbing.files import OutputError, atomic_path, disk_fault, staged_folder, writable_file


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_in_atomic_path_names_the_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(OutputError, match=rf"cannot write {target}: the disk is full"):
        with atomic_path(target) as tmp:
            tmp.write_text("{")
            _full_disk()
    assert list(tmp_path.iterdir()) == []


def test_run_main_reports_a_disk_fault_in_one_line_with_status_2(capsys):
    def body():
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/out.csv")

    assert run_main(body, mistakes=(OSError,)) == 2  # before mistakes' own str(e)
    err = capsys.readouterr().err
    assert (
        err == "error: cannot write /mnt/ro/out.csv: the file system is read-only: "
        "write to a folder on a writable disk\n"
    )


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES])
def test_every_disk_fault_has_its_own_cause_and_fix(code):
    line = disk_fault(OSError(code, os.strerror(code)), "out/x")
    assert line.startswith("cannot write out/x: ") and ":" in line.split(": ", 1)[1]
    assert disk_fault(OSError(errno.ENOENT, "missing"), "out/x") is None
    assert disk_fault(ValueError("no"), "out/x") is None


def test_a_failed_stage_keeps_the_earlier_run_and_names_the_final_path(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text("old")
    with pytest.raises(OutputError) as caught:
        with staged_folder(tmp_path) as stage:
            (stage / "run").mkdir()
            (stage / "run" / "log.json").write_text("new, half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(stage / "run" / "a.png"))
    assert str(caught.value).startswith(f"cannot write {tmp_path / 'run' / 'a.png'}: the disk")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["results.json"]
    assert (tmp_path / "run" / "results.json").read_text() == "old"


def test_a_whole_stage_replaces_the_earlier_run_and_removes_a_new_folder_on_failure(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "stale.json").write_text("old")
    with staged_folder(tmp_path) as stage:
        (stage / "run").mkdir()
        (stage / "run" / "results.json").write_text("new")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["results.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with pytest.raises(KeyboardInterrupt), staged_folder(tmp_path / "a" / "b") as stage:
        (stage / "x").write_text("partial")
        raise KeyboardInterrupt
    assert not (tmp_path / "a").exists()


def test_writable_file_probes_the_folder_and_leaves_an_existing_file_alone(tmp_path):
    (tmp_path / "p.csv").write_text("keep")
    assert writable_file(tmp_path / "p.csv") == tmp_path / "p.csv"
    assert (tmp_path / "p.csv").read_text() == "keep"
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]

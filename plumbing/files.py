"""Files every command writes: each through ``atomic_path``, so a crash or a refused run never
leaves a half-written file behind; an output path is checked before any work."""

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputError(OSError):
    """An output cannot be written where it was asked: the one line that says why."""


class MissingFolderError(OutputError, FileNotFoundError):
    """Its folder is missing or is a file, or the file asked for is a folder."""


# What the machine says when an output cannot be written, and what the user can do about it.
DISK_FAULTS = {
    errno.ENOSPC: "the disk is full (no space left on device): free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: write to a folder on a writable disk",
    errno.EACCES: "permission denied: write to a folder you own, or change its permissions",
    errno.EPERM: "the operation is not permitted: write to a folder you own",
}


def disk_fault(e: BaseException, path: str | os.PathLike | None = None) -> str | None:
    """The one line for an OSError that is the machine's answer to writing ``path`` (a full
    disk, a read-only file system, no permission); None for any other error."""
    if not isinstance(e, OSError) or e.errno not in DISK_FAULTS:
        return None
    where = path if path is not None else (e.filename or "an output file")
    return f"cannot write {where}: {DISK_FAULTS[e.errno]}"


def output_file(path: str | os.PathLike) -> Path:
    """``path`` as a file to be written, or a MissingFolderError saying why it cannot be: check
    it before any work, so that a bad ``--output`` is refused at once."""
    target = Path(path)
    if target.is_dir():
        raise MissingFolderError(f"cannot write {target}: it is a folder; name a file in it")
    output_folder(target.parent)
    if not target.parent.resolve().is_dir():
        raise MissingFolderError(f"cannot write {target}: folder {target.parent} does not exist")
    return target


def writable_file(path: str | os.PathLike) -> Path:
    """``output_file(path)``, and a file can be made in its folder: checked before any work (by
    making and removing an empty temporary file there, which is what the write will do), so
    nothing is computed that could not be saved. A read-only or refused folder is an
    OutputError naming the cause."""
    target = output_file(path)
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {target}: the file is read-only")
    try:
        fd, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-")
    except OSError as e:
        if (message := disk_fault(e, target)) is None:
            raise
        raise OutputError(message) from e
    os.close(fd)
    os.unlink(probe)
    return target


def output_folder(path: str | os.PathLike) -> Path:
    """``path`` as a folder to write into (it may not exist yet), or a MissingFolderError when
    it, or a folder above it, is a file."""
    folder = Path(path)
    for above in (folder, *folder.parents):
        if above.exists() and not above.is_dir():
            raise MissingFolderError(f"cannot write into {folder}: {above} is a file, not a folder")
    return folder


@contextmanager
def no_new_empty_folders(folder: str | os.PathLike) -> Iterator[None]:
    """If the body fails, the folders it created on the way to ``folder`` and below it are
    removed again when they are empty: a failed download leaves no empty ``data/...`` behind."""
    top = Path(folder).absolute()
    missing = [p for p in (top, *top.parents) if not p.exists()]
    before = {p for p in top.rglob("*") if p.is_dir()} if top.is_dir() else set()
    try:
        yield
    except BaseException:
        made = [p for p in top.rglob("*") if p.is_dir() and p not in before] if top.is_dir() else []
        for p in sorted(made + missing, key=lambda p: len(p.parts), reverse=True):
            if p.is_dir() and not any(p.iterdir()):
                p.rmdir()
        raise


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same folder, same extension); when the block ends
    normally it is renamed onto ``path`` in one step, when it raises it is removed. A full disk,
    a read-only folder or a refused permission is an OutputError naming ``path``.

        with atomic_path("out/metrics.json") as tmp:
            tmp.write_text(...)
    """
    target = output_file(path)
    tmp = None
    try:
        fd, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.stem}-", suffix=target.suffix
        )
        os.close(fd)
        tmp = Path(name)
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    except OSError as e:
        if (message := disk_fault(e, target)) is None:
            raise
        raise OutputError(message) from e
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


@contextmanager
def staged_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh hidden folder inside ``folder`` to write a run's outputs into; when the block
    ends normally each entry of it replaces the entry of that name in ``folder`` (one rename
    each), when it raises it is removed, and so is ``folder`` if the block created it. A run's
    folder is then either whole or as it was before: never half-written."""
    top = output_folder(folder)
    with no_new_empty_folders(top):
        try:
            top.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(dir=top, prefix=".staged-"))
        except OSError as e:
            if (message := disk_fault(e, top)) is None:
                raise
            raise OutputError(message) from e
        try:
            yield stage
            for entry in sorted(stage.iterdir()):
                _replace(entry, top / entry.name)
        except OSError as e:  # name the file where it was to go, not the staging folder
            message = disk_fault(e) if not isinstance(e, OutputError) else str(e)
            if message is None:
                raise
            raise OutputError(message.replace(str(stage), str(top))) from e
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def _replace(new: Path, old: Path) -> None:
    """Put ``new`` where ``old`` is: the old entry is renamed aside first, then removed."""
    aside = None
    if old.exists() or old.is_symlink():
        aside = old.with_name(f".{old.name}.replaced-{os.getpid()}")
        os.replace(old, aside)
    os.replace(new, old)
    if aside is not None and aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside)
    elif aside is not None:
        aside.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, default=str) + "\n")

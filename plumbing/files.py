"""Files every command writes: each through ``atomic_path``, so a crash or a refused run never
leaves a half-written file behind; an output path is checked before any work."""

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputError(OSError):
    """An output cannot be written where it was asked: the one line that says why."""


class MissingFolderError(OutputError, FileNotFoundError):
    """Its folder is missing or is a file, or the file asked for is a folder."""


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
    """``output_file(path)``, and its folder writable by this process: checked before any work,
    so nothing is done that could not be saved."""
    target = output_file(path)
    if not os.access(target.parent.resolve(), os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {target}: folder {target.parent} is not writable")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"cannot write {target}: the file is read-only")
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
    normally it is renamed onto ``path`` in one step, when it raises it is removed.

        with atomic_path("out/metrics.json") as tmp:
            tmp.write_text(...)
    """
    target = output_file(path)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=target.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, default=str) + "\n")

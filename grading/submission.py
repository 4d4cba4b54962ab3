"""Where a submission's code is: a ``neural_networks/`` folder, an ``hw3/`` folder, or ``hw3.zip``
(extracted here, safely: a member with an absolute or ``..`` path, a link, a name too long or
nested too deep, or an archive that unpacks to more than ``MAX_UNPACKED_MB`` is refused before
anything is written; a member that cannot be unpacked, encrypted, corrupt or clashing with
another, is refused in one line naming it). Folders are walked without recursion, never deeper
than ``MAX_DEPTH``."""

import os
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grading.text import printable
from plumbing.handout import PACKAGE

MAX_UNPACKED_MB = 500
MAX_DEPTH = 32  # folders inside a submission
MAX_NAME = 255  # bytes of one file or folder name (what Linux allows)
MAX_MEMBERS = 20000


class SubmissionError(Exception):
    """The submission cannot be graded at all: the one line that says why."""


@dataclass(frozen=True)
class Submission:
    package: Path  # the student's neural_networks/
    hw3: Path | None  # the hw3/ folder around it, when there is one


def _member(info: zipfile.ZipInfo) -> str:
    return repr(printable(info.filename, 80))


def _safe_members(z: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    members, total = z.infolist(), 0
    if len(members) > MAX_MEMBERS:
        raise SubmissionError(f"{path}: more than {MAX_MEMBERS} members")
    for info in members:
        name = PurePosixPath(info.filename)
        if (
            name.is_absolute()
            or ".." in name.parts
            or "\\" in info.filename
            or ":" in info.filename
        ):
            raise SubmissionError(f"{path}: member {_member(info)} would unpack outside the folder")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise SubmissionError(f"{path}: member {_member(info)} is a symbolic link")
        if any(len(part.encode()) > MAX_NAME for part in name.parts) or len(name.parts) > MAX_DEPTH:
            raise SubmissionError(
                f"{path}: member {_member(info)} has a name longer than {MAX_NAME} bytes "
                f"or nests deeper than {MAX_DEPTH} folders"
            )
        if info.flag_bits & 0x1:
            raise SubmissionError(
                f"{path}: member {_member(info)} is encrypted: zip it without a password"
            )
        total += info.file_size
    if total > MAX_UNPACKED_MB * 2**20:
        raise SubmissionError(
            f"{path}: unpacks to {total / 2**20:.0f} MB, over the {MAX_UNPACKED_MB} MB limit"
        )
    return members


UNPACKING = (OSError, RuntimeError, ValueError, EOFError, NotImplementedError, zlib.error)


def extract(path: Path, into: Path) -> Path:
    """Unpack ``path`` into ``into`` after checking every member; return ``into``. A member that
    cannot be unpacked (corrupt, a file where a folder is, an unknown compression) is refused
    in one line naming it."""
    try:
        with zipfile.ZipFile(path) as z:
            members = _safe_members(z, path)
            into.mkdir(parents=True, exist_ok=True)  # an empty archive is an empty folder
            for info in members:
                try:
                    z.extract(info, into)
                except UNPACKING + (zipfile.BadZipFile,) as e:
                    reason = printable(f"{type(e).__name__}: {e}", 120)
                    raise SubmissionError(
                        f"{path}: member {_member(info)} cannot be unpacked ({reason})"
                    ) from None
    except zipfile.BadZipFile:
        raise SubmissionError(f"{path} is not a zip archive") from None
    except UNPACKING as e:
        reason = type(e).__name__
        raise SubmissionError(f"{path} cannot be read as a zip archive ({reason})") from None
    return into


MODULES = ("activations.py", "layers.py", "losses.py", "models.py")


def is_package(folder: Path) -> bool:
    """A neural_networks/ folder with a module of the handout's (its __init__.py is optional:
    Python imports a folder without one as a namespace package)."""
    return folder.is_dir() and any((folder / m).is_file() for m in MODULES)


def _packages(root: Path, depth: int = 4) -> list[Path]:
    """Every neural_networks/ package under ``root``, at most ``depth`` folders down (links
    not followed; macOS's __MACOSX copies left out), shallowest first."""
    found, level = [], [root]
    for _ in range(depth + 1):
        found += [f for f in level if f.name == PACKAGE and is_package(f)]
        level = [
            c
            for f in level
            for c in sorted(f.iterdir())
            if c.is_dir() and not c.is_symlink() and c.name != "__MACOSX"
        ]
    return found


def locate(path: Path, scratch: Path) -> Submission:
    """The package in ``path``: a neural_networks/ folder, a folder holding one (hw3/, the
    handout's code/, Gradescope's submission folder), or a zip of either (extracted under
    ``scratch``). The hand-in folder is the one around the package, unless the package alone
    was given."""
    if not path.exists():
        raise SubmissionError(
            f"{path} does not exist: pass hw3.zip, an hw3/ folder or neural_networks/"
        )
    if path.is_dir() and not _packages(path):
        zips = sorted(path.glob("*.zip"))  # Gradescope's folder holding the uploaded hw3.zip
        if len(zips) == 1:
            path = zips[0]
    if path.is_file():
        path = extract(path, scratch / "unzipped")
    if is_package(path) and path.name == PACKAGE or (path / "layers.py").is_file():
        return Submission(path, None)
    found = _packages(path)
    if not found:
        raise SubmissionError(f"{path} holds no {PACKAGE}/ package (a folder with layers.py, ...)")
    shallowest = [p for p in found if len(p.parts) == len(found[0].parts)]
    if len(shallowest) > 1:
        where = ", ".join(str(p.relative_to(path)) for p in shallowest)
        raise SubmissionError(
            f"{path} holds {len(shallowest)} {PACKAGE}/ packages ({where}): hand in one"
        )
    return Submission(found[0], found[0].parent)


@dataclass(frozen=True)
class Copied:
    """The submission's one copy, which every piece reads: what was left out, in words."""

    package: Path
    notes: tuple = ()


def copy_package(source: Path, into: Path, max_files: int, max_mb: float) -> Copied:
    """``source`` (a neural_networks/ folder) copied once into ``into``/neural_networks, as
    plain files readable by the sandbox: a link is copied as what it points to when that is a
    file inside the submission, and left out otherwise; __pycache__ and anything that is
    neither a file nor a folder are left out; SubmissionError past the file or byte limit."""
    root, dest = source.resolve(), into / PACKAGE
    notes, count, size = [], 0, 0
    for rel, dirs, files in _walk(source, max_files):
        (dest / rel).mkdir(parents=True, exist_ok=True, mode=0o755)
        del dirs
        for name in files:
            path = source / rel / name
            target = _inside(path, root)
            if target is None:
                shown = printable((rel / name).as_posix(), 120)
                notes.append(
                    f"left out {PACKAGE}/{shown}: a link to outside the submission, or not a file"
                )
                continue
            count, size = count + 1, size + target.stat().st_size
            if count > max_files or size > max_mb * 2**20:
                raise SubmissionError(
                    f"{source} holds more than {max_files} files or {max_mb:g} MB "
                    "(grading/config.yaml, submission): hand in the package alone"
                )
            shutil.copyfile(target, dest / rel / name)
            (dest / rel / name).chmod(0o644)
    return Copied(dest, tuple(notes))


def _walk(source: Path, max_entries: int):
    """(relative folder, its sub-folders, its files) of every folder under ``source``, walked
    with a list (no recursion), links and __pycache__ left out; SubmissionError past
    ``MAX_DEPTH`` folders deep or ``max_entries`` entries."""
    todo, seen = [Path(".")], 0
    while todo:
        rel = todo.pop()
        if len(rel.parts) > MAX_DEPTH:
            raise SubmissionError(
                f"{source}: folders nest deeper than {MAX_DEPTH} levels: hand in the package alone"
            )
        try:
            entries = sorted(os.scandir(source / rel), key=lambda e: e.name)
        except OSError as e:
            raise SubmissionError(f"{source / rel} cannot be read ({e.strerror})") from None
        seen += len(entries)
        if seen > 10 * max_entries:
            raise SubmissionError(f"{source} holds more than {10 * max_entries} entries")
        dirs = [
            e.name for e in entries if e.is_dir(follow_symlinks=False) and e.name != "__pycache__"
        ]
        files = [  # links to folders are left out, as os.walk without followlinks leaves them
            e.name for e in entries if not e.is_dir(follow_symlinks=False) and not _is_dir(e)
        ]
        yield rel, dirs, files
        todo += [rel / d for d in reversed(dirs)]


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a loop of links, a folder it may not read
        return False


def _inside(path: Path, root: Path) -> Path | None:
    """The regular file ``path`` is or links to, when it is inside ``root``; else None."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link, a loop
        return None
    if not target.is_relative_to(root) or not stat.S_ISREG(target.stat().st_mode):
        return None
    return target

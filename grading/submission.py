"""Where a submission's code is: a ``neural_networks/`` folder, an ``hw3/`` folder, or ``hw3.zip``
(extracted here, safely: a member with an absolute or ``..`` path, a link, or an archive that
unpacks to more than ``MAX_UNPACKED_MB`` is refused before anything is written)."""

import os
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from plumbing.handout import PACKAGE

MAX_UNPACKED_MB = 500


class SubmissionError(Exception):
    """The submission cannot be graded at all: the one line that says why."""


@dataclass(frozen=True)
class Submission:
    package: Path  # the student's neural_networks/
    hw3: Path | None  # the hw3/ folder around it, when there is one


def _safe_members(z: zipfile.ZipFile, path: Path) -> list[zipfile.ZipInfo]:
    members, total = z.infolist(), 0
    for info in members:
        name = PurePosixPath(info.filename)
        if (
            name.is_absolute()
            or ".." in name.parts
            or "\\" in info.filename
            or ":" in info.filename
        ):
            raise SubmissionError(
                f"{path}: member {info.filename!r} would unpack outside the folder"
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise SubmissionError(f"{path}: member {info.filename!r} is a symbolic link")
        total += info.file_size
    if total > MAX_UNPACKED_MB * 2**20:
        raise SubmissionError(
            f"{path}: unpacks to {total / 2**20:.0f} MB, over the {MAX_UNPACKED_MB} MB limit"
        )
    return members


def extract(path: Path, into: Path) -> Path:
    """Unpack ``path`` into ``into`` after checking every member; return ``into``."""
    try:
        with zipfile.ZipFile(path) as z:
            members = _safe_members(z, path)
            for info in members:
                z.extract(info, into)
    except zipfile.BadZipFile:
        raise SubmissionError(f"{path} is not a zip archive") from None
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
    for folder, dirs, files in os.walk(source, followlinks=False):
        rel = Path(folder).relative_to(source)
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (Path(folder) / d).is_symlink()]
        (dest / rel).mkdir(parents=True, exist_ok=True, mode=0o755)
        for name in files:
            path = Path(folder) / name
            target = _inside(path, root)
            if target is None:
                notes.append(
                    f"left out {PACKAGE}/{(rel / name).as_posix()}: a link to outside the submission, or not a file"
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


def _inside(path: Path, root: Path) -> Path | None:
    """The regular file ``path`` is or links to, when it is inside ``root``; else None."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link, a loop
        return None
    if not target.is_relative_to(root) or not stat.S_ISREG(target.stat().st_mode):
        return None
    return target

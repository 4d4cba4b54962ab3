"""Student code runs here, never in the grader's process: one sealed subprocess per graded piece.

**Bubblewrap** (``bwrap``), where the host allows namespaces: each piece gets new PID, network,
IPC, UTS and mount namespaces. Inside it sees the interpreter and its site-packages read-only,
the student's package read-only, and its own scratch folder (the request, its inputs, the
course's Iris split, its result); nothing of the grader, the reference, the fixtures, the labels
or the results, and only loopback with no one listening. ``--die-with-parent`` and the PID
namespace end every process of the piece when it ends or is stopped: none outlives it. Run as
root, the child gives up root for a sandbox user of its own (so its process limit holds).

**An unprivileged user**, where namespaces are refused and the grader runs as root: the child
runs as a dedicated user (a different one for each piece running at once) that cannot read the
grader's files, with a process limit, and every process of that user is killed after the piece.
Its network is the host's.

With neither, the grader refuses to run students' code unless told ``unsafe`` (then the child
runs with the limits alone). Every mode also caps the address space, the CPU time, the size of
any file written (printing included) and the wall clock, and reads nothing back unchecked:
``_read`` bounds the result's size before allocating, takes numeric arrays only and a small
report of short strings, and anything malformed costs that piece alone.
"""

import functools
import io
import json
import math
import os
import queue
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

CHILD = Path(__file__).with_name("child.py")
STANDINS = Path(__file__).with_name("standins.py")  # staged for the pieces that call stand-ins
STANDINS_FOR = ("layer", "network")
NAMESPACES = (
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup-try",
)  # and a user namespace where bwrap needs one (not root)
INSIDE = "/sandbox"  # the scratch folder, as the child sees it under bubblewrap
FIRST_UID = 61000  # sandbox users: FIRST_UID, FIRST_UID + 1, ... (one per piece running at once)


@dataclass(frozen=True)
class Limits:
    seconds: float = 20.0  # wall clock, per piece
    memory_mb: int = 2048  # address space
    output_mb: int = 64  # any one file the child writes (its stdout and stderr too)
    processes: int = 64  # processes and threads of the sandbox user
    result_mb: int = 256  # the arrays a piece may send back


class NoProtection(Exception):
    """Neither namespaces nor a sandbox user are available: why, and what to do."""


# -- which protection this host allows ----------------------------------------------------------
@dataclass(frozen=True)
class Protection:
    kind: str  # "bubblewrap", "user" or "none"
    root: bool  # whether the grader runs as root (the child then drops to a sandbox user)

    def describe(self) -> str:
        return {
            "bubblewrap": "bubblewrap namespaces (no grader files, no network, no process "
            "outlives its piece)",
            "user": "an unprivileged user per piece (grader files unreadable, its processes "
            "killed after each piece; the host's network)",
            "none": "NONE: --unsafe, students' code runs with resource limits only",
        }[self.kind]


def _mounts() -> list[str]:
    """The interpreter and its libraries, read-only: the system's /usr, and Python's own trees
    where they live elsewhere (a pyenv, a virtual environment)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path(f"/{link}").is_symlink():
            args += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        elif Path(f"/{link}").is_dir():
            args += ["--ro-bind", f"/{link}", f"/{link}"]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    trees = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parents[1]}
    made = set()
    for tree in sorted(trees):
        if str(tree).startswith("/usr/"):
            continue
        for above in reversed(tree.parents[:-1]):  # traversable folders on the way, not 0700
            if above not in made:
                args += ["--perms", "0755", "--dir", str(above)]
                made.add(above)
        args += ["--ro-bind", str(tree), str(tree)]
    for hidden in Path(sys.prefix).glob("lib/python*/site-packages/__editable__*"):
        args += ["--ro-bind", "/dev/null", str(hidden)]  # this project's editable install: gone
    return args


def bwrap_argv(scratch: Path, package: Path) -> list[str]:
    """The bubblewrap command line around a piece: what it sees, and nothing more. Run as
    root it makes no user namespace (the child drops to its sandbox user itself); otherwise
    bubblewrap needs one."""
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    return [
        "bwrap",
        *user,
        *NAMESPACES,
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        *_mounts(),  # /tmp first: a
        "--bind",
        str(scratch),
        INSIDE,  # Python under /tmp (a virtual environment) stays seen
        "--ro-bind",
        str(package),
        f"{INSIDE}/neural_networks",
        "--chdir",
        INSIDE,
        "--clearenv",
    ]


KINDS = ("auto", "bubblewrap", "user", "none")  # --sandbox: auto is the strongest available


def _bwrap_works() -> bool:
    probe = Path(tempfile.mkdtemp(prefix="grading-probe-"))
    try:
        argv = [*bwrap_argv(probe, probe), sys.executable, "-I", "-c", "import numpy"]
        return subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


GRADER = Path(__file__).resolve().parents[1]  # the grader's folder (the bundle's source/)


def _user_works() -> str:
    """'' when a sandbox user can run this interpreter with numpy and cannot read the grader's
    folder; else why not."""
    if os.geteuid() != 0:
        return "the grader is not root, so it cannot run code as another user"
    probe = f"import numpy, os, sys; sys.exit(3 if os.access({str(GRADER)!r}, os.R_OK) else 0)"
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", probe],
            capture_output=True,
            timeout=60,
            cwd="/",
            preexec_fn=_as_user(FIRST_UID),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"a sandbox user cannot start {sys.executable} ({e})"
    if done.returncode == 3:
        return (
            f"other users can read the grader's folder {GRADER}: chmod 700 it (run_autograder does)"
        )
    if done.returncode != 0:
        return (
            f"a sandbox user cannot run {sys.executable} with numpy: install Python where "
            f"other users can read it (the system's, or a virtual environment outside /root)"
        )
    return ""


def _as_user(uid: int):
    def apply() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return apply


@functools.cache
def available(unsafe: bool = False, kind: str = "auto") -> Protection:
    """The protection in force: ``kind``, or the strongest this host allows (bubblewrap, else a
    sandbox user); NoProtection when there is none, unless ``unsafe``."""
    root, why = os.geteuid() == 0, []
    if kind in ("auto", "bubblewrap"):
        if _bwrap_works():
            return Protection("bubblewrap", root)
        why.append("bubblewrap cannot create namespaces here (apt-get install bubblewrap)")
    if kind in ("auto", "user"):
        problem = _user_works()
        if not problem:
            return Protection("user", root)
        why.append(problem)
    if unsafe or kind == "none":
        return Protection("none", root)
    raise NoProtection(
        f"no sandbox for students' code: {'; '.join(why)}; or pass --unsafe to grade without one"
    )


UIDS: queue.Queue = queue.Queue()
for _i in range(4 * (os.cpu_count() or 2)):
    UIDS.put(FIRST_UID + _i)


# -- running one piece -------------------------------------------------------------------------
def _limit(limits: Limits, uid: int | None, protection: Protection):
    def apply() -> None:
        mb = 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        cpu = int(limits.seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_mb * mb, limits.output_mb * mb))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        nproc = limits.processes if protection.root else _own_processes() + limits.processes
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        os.setsid()  # its own process group: a timeout ends it and its children
        if uid is not None and protection.kind == "user":
            _as_user(uid)()

    return apply


def _own_processes() -> int:
    me = os.getuid()
    return sum(1 for p in Path("/proc").glob("[0-9]*") if _owner(p) == me)


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _env(home: str) -> dict:
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        **threads,
    }


def _command(scratch: Path, package: Path, uid: int | None, protection: Protection) -> tuple:
    """(argv, cwd, environment) of the child under the protection in force."""
    if protection.kind == "bubblewrap":
        env = _env(f"{INSIDE}/home")
        argv = bwrap_argv(scratch, package)
        if protection.root:  # the child drops to its sandbox user itself (child.py --uid)
            argv[argv.index("--cap-drop") : argv.index("--cap-drop") + 2] = [
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "CAP_SETGID",
            ]
        for k, v in env.items():
            argv += ["--setenv", k, v]
        child = [sys.executable, "-I", f"{INSIDE}/child.py", "request.txt", "inputs.npz", "result"]
        drop = ["--uid", str(uid)] if protection.root else []
        return [*argv, *child, *drop], None, None
    (scratch / "neural_networks").symlink_to(package)
    child = [sys.executable, "-I", str(scratch / "child.py"), "request.txt", "inputs.npz", "result"]
    return child, scratch, _env(str(scratch / "home"))


def _stage(scratch: Path, request: dict, inputs: dict, files: dict, uid: int | None) -> None:
    scratch.mkdir(mode=0o700)
    (scratch / "child.py").write_bytes(CHILD.read_bytes())
    if request.get("kind") in STANDINS_FOR:
        (scratch / "standins.py").write_bytes(STANDINS.read_bytes())
    for name, data in files.items():
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        (scratch / name).write_bytes(data)
    for folder in ("home", "result"):
        (scratch / folder).mkdir()
    (scratch / "request.txt").write_text(repr(request))
    np.savez(scratch / "inputs.npz", **inputs)
    if uid is not None:
        for path in (scratch, *scratch.rglob("*")):
            os.chown(path, uid, uid, follow_symlinks=False)


@dataclass
class Reply:
    """What one sandbox run gave back: the arrays and report lines of every sub-part it
    finished, why it stopped early (``failure``, empty when it ran to its end) and, then, the
    (case, sub-part) it was running."""

    arrays: dict
    report: dict
    failure: str = ""
    running: tuple = ()
    seconds: float = 0.0  # the run's wall time, staging and reading included


def run(
    package: Path,
    request: dict,
    inputs: dict,
    limits: Limits,
    scratch: Path,
    protection: Protection,
    files: dict | None = None,
) -> Reply:
    """What the student's code computed for ``request`` on ``inputs``, in the sandbox.
    ``scratch`` is a new folder for this run (inside one the grader made); ``package`` the
    submission's one copy. Whatever the child did, the sub-parts it finished come back."""
    uid = UIDS.get() if protection.root and protection.kind != "none" else None
    start = time.perf_counter()
    try:
        _stage(scratch, request, inputs, files or {}, uid)
        argv, cwd, env = _command(scratch, package, uid, protection)
        code, err = _wait(argv, cwd, env, limits, uid, protection)
        reply = _reply(scratch / "result", limits, code, err)
        return replace(reply, seconds=time.perf_counter() - start)
    finally:
        if uid is not None:
            UIDS.put(uid)


def _wait(argv, cwd, env, limits: Limits, uid, protection: Protection) -> tuple[int, str]:
    """(exit status, the end of its standard error). Its output goes to files of the grader's
    that the sandbox cannot name (unnamed temporary files), read back through the grader's
    own descriptor."""
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=so,
            stderr=se,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limit(limits, uid, protection),
        )
        try:
            code = proc.wait(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = -signal.SIGKILL
        finally:
            if protection.kind == "user":
                kill_user(uid)
                sweep(uid)
        se.seek(max(0, se.seek(0, os.SEEK_END) - 4000))
        return code, se.read(4000).decode(errors="replace")


def alive(uid: int) -> list[int]:
    """The processes of ``uid`` that still run (a killed one waiting to be reaped does not)."""
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if _owner(p) == uid and _running(p)]


def _running(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


def kill_user(uid: int) -> None:
    """Every process of ``uid``, gone: a process of that user signals them all (kill -1)."""
    for _ in range(50):
        if not alive(uid):
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)


SHARED = ("/tmp", "/var/tmp", "/dev/shm")  # where any user may write on the host


def sweep(uid: int) -> None:
    """What a sandbox user left in the host's shared folders, removed: nothing a run writes
    there reaches a later run (a later stage of the piece, or another submission)."""
    for folder in SHARED:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def _reason(code: int, limits: Limits, err: str) -> str:
    if code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL, 128 + signal.SIGXCPU):
        return f"took longer than {limits.seconds:g} s"
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return f"wrote more than {limits.output_mb} MB (printing?)"
    tail = [line for line in err.splitlines() if line.strip() and not line.startswith("bwrap:")]
    if tail and "MemoryError" in tail[-1]:
        return f"ran out of memory (limit {limits.memory_mb} MB)"
    last = _clean(tail[-1], 200) if tail else "no output"
    return f"exited with status {code}: {last}"


# -- reading what came back, trusting none of it ----------------------------------------------
NUMERIC = "biuf"  # bool, signed and unsigned integers, floats: nothing else comes back
REPORT_BYTES = 256 * 1024
RESULT_FILES = 4096  # the most result files (and arrays in one) a run may leave
PART = re.compile(r"[0-9]{4}\.npz")  # the child's result files, one per finished sub-part


def _reply(result: Path, limits: Limits, code: int, err: str) -> Reply:
    """The run's reply, read from ``result/`` without following a link or opening anything but
    a regular file (a link, a FIFO or a device in its place is not read)."""
    failure = _reason(code, limits, err) if code != 0 else ""
    try:
        folder = os.open(result, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return Reply({}, {}, failure or "its result folder is gone")
    try:
        arrays, problem = _read_arrays(folder, limits.result_mb * 2**20)
        report, trouble = _read_report(_plain_bytes("report.json", REPORT_BYTES, folder))
        failure = failure or problem or trouble
        running = _read_running(_plain_bytes("running.json", 1024, folder)) if failure else ()
    finally:
        os.close(folder)
    return Reply(arrays, report, failure, running)


def _plain_bytes(name: str, limit: int, folder: int) -> bytes | None:
    """The bytes of the regular file ``name`` in the open folder ``folder``, when it is one and
    holds at most ``limit`` bytes; None otherwise (missing, a link, a FIFO, too large)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_arrays(folder: int, budget: int) -> tuple[dict, str]:
    """Every array of the result files (``NNNN.npz``, in order), each header checked before its
    data is read; (arrays, what could not be read, or "")."""
    try:
        names = sorted(n for n in os.listdir(folder) if PART.fullmatch(n))
    except OSError:
        return {}, "its result folder could not be listed"
    if len(names) > RESULT_FILES:
        return {}, f"it left more than {RESULT_FILES} result files"
    arrays, left = {}, budget
    for name in names:
        data = _plain_bytes(name, left, folder)
        if data is None:
            return arrays, "its result is not a file, or larger than allowed"
        try:
            left -= _read_npz(data, arrays, left)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, TypeError, KeyError) as e:
            return arrays, f"its result could not be read ({type(e).__name__}: {e})"[:200]
    return arrays, ""


def _read_npz(data: bytes, arrays: dict, budget: int) -> int:
    """The arrays of one npz (bytes) into ``arrays``: names of plain characters, numeric
    dtypes, shapes whose bytes fit the budget and the member; returns the bytes used."""
    used = 0
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = z.infolist()
        if len(members) > RESULT_FILES:
            raise ValueError(f"{len(members)} arrays in one result file")
        for info in members:
            name = info.filename.removesuffix(".npy")
            if (
                not all(c.isascii() and (c.isalnum() or c in "_/-") for c in name)
                or len(name) > 200
            ):
                raise ValueError(f"a result named {_clean(name, 40)!r}")
            with z.open(info) as f:
                array = _read_npy(f, name, info.file_size, budget - used)
            used += array.nbytes
            arrays[name] = array
    return used


def _read_npy(f, name: str, size: int, budget: int) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if header is None:
        raise ValueError(f"{name}: npy version {version}")
    shape, fortran, dtype = header(f)
    if dtype.kind not in NUMERIC or dtype.hasobject or dtype.fields is not None:
        raise ValueError(f"{name}: values of type {dtype}, not numbers")
    if not all(isinstance(d, int) and 0 <= d for d in shape) or len(shape) > 32:
        raise ValueError(f"{name}: shape {shape!r:.60}")
    nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if nbytes > budget or nbytes > size:
        raise ValueError(f"{name}: {nbytes:.3g} bytes claimed")
    data = f.read(nbytes + 1)
    if len(data) != nbytes:
        raise ValueError(f"{name}: {len(data)} bytes for {nbytes}")
    order = "F" if fortran else "C"
    return np.frombuffer(data, dtype).reshape(shape, order=order).copy()


def _clean(text: str, limit: int) -> str:
    """At most ``limit`` printable characters of an untrusted string (control characters,
    escape sequences and line breaks become spaces)."""
    return "".join(c if c.isprintable() else " " for c in text[:limit])


def _json(data: bytes | None):
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _read_report(data: bytes | None) -> tuple[dict, str]:
    """({case: {part: line}}, what was wrong with it): short printable strings only."""
    raw = _json(data)
    if not isinstance(raw, dict):
        return {}, "" if data is None else "its report is not a table of lines"
    report = {}
    for case, parts in list(raw.items())[:RESULT_FILES]:
        if isinstance(case, str) and isinstance(parts, dict):
            report[_clean(case, 100)] = {
                _clean(str(k), 100): _clean(v, 300)
                for k, v in list(parts.items())[:64]
                if isinstance(v, str)
            }
    return report, ""


def _read_running(data: bytes | None) -> tuple:
    """(case, sub-part) the run was in when it stopped, or () when that is not known."""
    raw = _json(data)
    if isinstance(raw, dict) and all(isinstance(raw.get(k), str) for k in ("case", "part")):
        return _clean(raw["case"], 100), _clean(raw["part"], 100)
    return ()

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
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
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
    seconds: float = 30.0  # wall clock, per sandbox run
    memory_mb: int = 2048  # address space
    output_mb: int = 64  # any one file the child writes (its stdout and stderr too)
    processes: int = 64  # processes and threads of the sandbox user
    result_mb: int = 256  # the arrays a piece may send back
    disk_mb: int = 128  # what it may write to disk, its working folder and /tmp together


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


def bwrap_argv(scratch: Path, package: Path, disk_mb: int = 128) -> list[str]:
    """The bubblewrap command line around a piece: what it sees, and nothing more. Its working
    folder and /tmp are fresh size-capped tmpfs (``disk_mb`` between them); what the grader
    staged, the package included, is bound there read-only. Run as root it makes no user
    namespace (the child drops to its sandbox user itself); otherwise bubblewrap needs one."""
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    size = str(disk_mb * 2**20 // 2)
    argv = [
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
        *("--perms", "01777", "--size", size, "--tmpfs", "/tmp"),
        *_mounts(),  # after /tmp: Python under /tmp (a virtual environment) stays seen
        *("--perms", "01777", "--size", size, "--tmpfs", INSIDE),
    ]
    for entry in sorted(scratch.iterdir()):
        argv += ["--ro-bind", str(entry), f"{INSIDE}/{entry.name}"]
    argv += ["--ro-bind", str(package), f"{INSIDE}/neural_networks"]
    return [*argv, "--perms", "01777", "--dir", f"{INSIDE}/home", "--chdir", INSIDE, "--clearenv"]


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
            **_as_user(FIRST_UID),
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


def _as_user(uid: int) -> dict:
    """Popen's arguments that start a process as ``uid`` (done by the interpreter between fork
    and exec, with no Python code there: safe beside threads)."""
    return {"user": uid, "group": uid, "extra_groups": []}


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
STOP = threading.Event()  # set when a batch is stopped: runs in progress end, no new one starts
FORKING = threading.Lock()  # held while a sandbox is started, and by the grader while BLAS runs:
# a fork beside a BLAS call in another thread can hang (OpenBLAS's fork handlers)


def _child_limits(limits: Limits, protection: Protection) -> str:
    """What child.py sets on itself before anything else: address space, CPU seconds, file
    size and processes (``--limits``)."""
    nproc = limits.processes if protection.root else _own_processes() + limits.processes
    values = (limits.memory_mb * 2**20, int(limits.seconds) + 1, limits.output_mb * 2**20, nproc)
    return ",".join(str(v) for v in values)


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


def _command(scratch, package, uid, protection, limits: Limits, fd: int) -> tuple:
    """(argv, cwd, environment) of the child under the protection in force; it writes its
    reply to the pipe ``fd`` and confines itself first (``--limits``, ``--uid``)."""
    rest = ["request.txt", "inputs.npz", str(fd), "--limits", _child_limits(limits, protection)]
    if protection.kind == "bubblewrap":
        argv = bwrap_argv(scratch, package, limits.disk_mb)
        if protection.root:  # the child drops to its sandbox user itself (child.py --uid)
            argv[argv.index("--cap-drop") : argv.index("--cap-drop") + 2] = [
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "CAP_SETGID",
            ]
        for k, v in _env(f"{INSIDE}/home").items():
            argv += ["--setenv", k, v]
        drop = ["--uid", str(uid)] if protection.root else []
        return [*argv, sys.executable, "-I", f"{INSIDE}/child.py", *rest, *drop], None, None
    (scratch / "neural_networks").symlink_to(package)
    (scratch / "home").mkdir()
    if uid is not None:  # its working folder is writable, as bubblewrap's tmpfs is
        for path in (scratch, scratch / "home"):
            os.chown(path, uid, uid)
    child = [sys.executable, "-I", str(scratch / "child.py"), *rest]
    return child, scratch, _env(str(scratch / "home"))


def _stage(scratch: Path, request: dict, inputs: dict, files: dict) -> None:
    """The run's inputs in ``scratch``, which the child sees read-only."""
    scratch.mkdir(mode=0o755)
    (scratch / "child.py").write_bytes(CHILD.read_bytes())
    if request.get("kind") in STANDINS_FOR:
        (scratch / "standins.py").write_bytes(STANDINS.read_bytes())
    for name, data in files.items():
        (scratch / name).parent.mkdir(parents=True, exist_ok=True)
        (scratch / name).write_bytes(data)
    (scratch / "request.txt").write_text(repr(request))
    np.savez(scratch / "inputs.npz", **inputs)


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
    if STOP.is_set():
        return Reply({}, {}, "not run: the grading was stopped")
    uid = UIDS.get() if protection.root and protection.kind != "none" else None
    start = time.perf_counter()
    try:
        _stage(scratch, request, inputs, files or {})
        read, write = os.pipe()
        channel = Channel(read, limits.result_mb * 2**20)
        try:
            argv, cwd, env = _command(scratch, package, uid, protection, limits, write)
        except BaseException:
            os.close(read)
            os.close(write)
            raise
        code, err, why = _wait(argv, cwd, env, limits, uid, protection, scratch, write, channel)
        reply = _reply(channel, limits, code, err, why)
        return replace(reply, seconds=time.perf_counter() - start)
    finally:
        if uid is not None:
            UIDS.put(uid)


def _wait(argv, cwd, env, limits, uid, protection, scratch, write, channel) -> tuple:
    """(exit status, the end of its standard error, why it was stopped or ""). Its output goes
    to files of the grader's that the sandbox cannot name (unnamed temporary files), read back
    through the grader's own descriptor. The pipe's write end is closed here, once; its read
    end belongs to ``channel``."""
    user = _as_user(uid) if uid is not None and protection.kind == "user" else {}
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        try:
            with FORKING:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdout=so,
                    stderr=se,
                    stdin=subprocess.DEVNULL,
                    pass_fds=(write,),
                    start_new_session=True,  # its own process group: a timeout ends them all
                    **user,
                )
        except BaseException:
            os.close(channel.fd)
            raise
        finally:
            os.close(write)
        channel.start()
        try:
            code, why = _watch(proc, limits, uid, protection, scratch)
        finally:
            if protection.kind == "user":
                kill_user(uid)
                sweep(uid)
        channel.join(timeout=10)
        se.seek(max(0, se.seek(0, os.SEEK_END) - 4000))
        return code, se.read(4000).decode(errors="replace"), why


def _watch(proc, limits: Limits, uid, protection: Protection, scratch: Path) -> tuple[int, str]:
    """Wait for the child within the wall-clock limit. Under bubblewrap its writable folders
    are capped tmpfs; otherwise the disk it fills (its folder, what its user left in the shared
    folders) is measured as it runs, and past ``disk_mb`` it is stopped."""
    deadline = time.monotonic() + limits.seconds
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(0.25, deadline - time.monotonic()))), ""
        except subprocess.TimeoutExpired:
            pass
        over = protection.kind != "bubblewrap" and _disk(scratch, uid) > limits.disk_mb * 2**20
        if over or STOP.is_set() or time.monotonic() >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            why = f"wrote more than {limits.disk_mb} MB to disk" if over else ""
            return -signal.SIGKILL, "stopped with the grading" if STOP.is_set() else why


def _disk(scratch: Path, uid: int | None) -> int:
    """Bytes under ``scratch`` and, for a sandbox user, in what it owns in the shared folders."""
    roots = [scratch]
    for folder in SHARED if uid is not None else ():
        try:
            roots += [Path(e.path) for e in os.scandir(folder) if _owner(Path(e.path)) == uid]
        except OSError:
            pass
    return sum(_size_of(root) for root in roots)


def _size_of(root: Path) -> int:
    """The bytes of every file under ``root``, walked without recursion or following links."""
    total, todo = 0, [root]
    while todo:
        path = todo.pop()
        try:
            info = path.lstat()
            if stat.S_ISDIR(info.st_mode):
                todo += list(path.iterdir())
            else:
                total += info.st_size
        except OSError:
            pass
    return total


class Channel(threading.Thread):
    """The child's reply, read from its pipe as it comes: records of one kind byte, an 8-byte
    length and that many bytes; at most ``budget`` bytes in all. A record cut short (the run was
    stopped mid-write) is dropped; an unknown kind or a record past the budget ends the reading
    (``problem``), and the child's next write fails."""

    KINDS = (b"A", b"R", b"U")  # arrays (npz), the report (JSON), the running sub-part (JSON)

    def __init__(self, fd: int, budget: int):
        super().__init__(daemon=True)
        self.fd, self.budget, self.records, self.problem, self.used = fd, budget, [], "", 0

    def run(self) -> None:
        with os.fdopen(self.fd, "rb") as pipe:
            while (head := pipe.read(9)) and len(head) == 9:
                kind, size = head[:1], int.from_bytes(head[1:], "big")
                if kind not in self.KINDS:
                    self.problem = "a record of an unknown kind"
                    return
                if self.used + size > self.budget:
                    self.problem = f"larger than {self.budget // 2**20} MB"
                    return
                data = pipe.read(size)
                if len(data) != size:
                    return
                self.used += size
                self.records.append((kind, data))


def alive(uid: int) -> list[int]:
    """The processes of ``uid`` that still run (a killed one waiting to be reaped does not)."""
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if _owner(p) == uid and _running(p)]


def _running(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


def kill_user(uid: int) -> None:
    """Every process of ``uid``, gone: a process of that user signals them all (kill -1),
    started as that user by the interpreter (no Python code between fork and exec)."""
    for _ in range(50):
        if not alive(uid):
            return
        with FORKING:
            done = subprocess.Popen(
                ["kill", "-9", "-1"], **_as_user(uid), stderr=subprocess.DEVNULL
            )
        done.wait()
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
    last = clean(tail[-1], 200) if tail else "no output"
    return f"exited with status {code}: {last}"


# -- reading what came back, trusting none of it ----------------------------------------------
FLOAT = "f"  # the child sends float arrays only (shapes and call logs too): nothing else is read
MAX_RANK = 8
MAX_ARRAYS = 4096  # arrays in one reply
JSON_DEPTH = 8  # the report is {case: {part: line}}: nothing nests deeper
TEXT = 300  # the longest line of a report kept


class Malformed(ValueError):
    """A reply that is not what child.py writes: the one line why."""


def _reply(channel: Channel, limits: Limits, code: int, err: str, why: str = "") -> Reply:
    """The run's reply, read from its records without trusting any: malformed, it costs the
    stage all its sub-parts, in one line; cut short by a stop, it keeps what came before."""
    failure = why or (_reason(code, limits, err) if code != 0 else "")
    arrays, report, running = {}, {}, ()
    try:
        if channel.problem:
            raise Malformed(channel.problem)
        for kind, data in channel.records:
            if kind == b"A":
                read_npz(data, arrays, limits.result_mb * 2**20)
            elif kind == b"R":
                report = read_report(data)
            else:
                running = read_running(data)
    except Exception as e:  # noqa: BLE001 - any failure to parse untrusted bytes is malformed
        reason = str(e) if isinstance(e, Malformed) else f"{type(e).__name__}: {e}"
        return Reply({}, {}, f"its reply is malformed ({clean(reason, 160)})")
    if code == 0 and not any(kind == b"R" for kind, _ in channel.records):
        failure = failure or "it gave no result"
    return Reply(arrays, report, failure, running if failure else ())


def read_npz(data: bytes, arrays: dict, budget: int) -> None:
    """The arrays of one npz (bytes) into ``arrays``: names of plain characters, float dtypes,
    shapes checked as integers against the budget and the member before any data is read."""
    used = sum(a.nbytes for a in arrays.values())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = z.infolist()
        if len(members) + len(arrays) > MAX_ARRAYS:
            raise Malformed(f"more than {MAX_ARRAYS} arrays")
        for info in members:
            name = info.filename.removesuffix(".npy")
            if not NAME.fullmatch(name):
                raise Malformed(f"an array named {clean(name, 40)!r}")
            with z.open(info) as f:
                array = _read_npy(f, name, info.file_size, budget - used)
            used += array.nbytes
            arrays[name] = array


NAME = re.compile(r"[A-Za-z0-9_]{1,40}(/[A-Za-z0-9_-]{1,60}){0,3}")


def _read_npy(f, name: str, size: int, budget: int) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if header is None:
        raise Malformed(f"{name}: npy version {version}")
    shape, fortran, dtype = header(f, max_header_size=1024)
    if dtype.kind not in FLOAT or dtype.fields is not None or dtype.subdtype is not None:
        raise Malformed(f"{name}: values of type {dtype}, not floats")
    if len(shape) > MAX_RANK or not all(type(d) is int and 0 <= d for d in shape):
        raise Malformed(f"{name}: shape {clean(repr(shape), 60)}")
    nbytes = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if nbytes > budget or nbytes > size:
        raise Malformed(f"{name}: {nbytes:.3g} bytes claimed")
    data = f.read(nbytes + 1)
    if len(data) != nbytes:
        raise Malformed(f"{name}: {len(data)} bytes for {nbytes}")
    order = "F" if fortran else "C"
    return np.frombuffer(data, dtype).reshape(shape, order=order).astype(np.float64)


def clean(text: str, limit: int) -> str:
    """At most ``limit`` printable characters of an untrusted string (control characters,
    escape sequences and line breaks become spaces)."""
    from grading.text import printable

    return printable(text, limit)


def json_bounded(data: bytes, depth: int = JSON_DEPTH):
    """JSON from untrusted bytes, refused (Malformed) when it nests deeper than ``depth``:
    the nesting is counted before the parser runs."""
    level, deepest, in_string, escaped = 0, 0, False, False
    for byte in data:
        if in_string:
            escaped, in_string = (
                (not escaped and byte == 0x5C),
                in_string and (escaped or byte != 0x22),
            )
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            level += 1
            deepest = max(deepest, level)
            if deepest > depth:
                raise Malformed(f"JSON nested deeper than {depth}")
        elif byte in (0x5D, 0x7D):
            level -= 1
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise Malformed(f"not JSON ({type(e).__name__})") from None


def read_report(data: bytes) -> dict:
    """{case: {part: line}}: short printable strings only; anything else is malformed."""
    raw = json_bounded(data)
    if not isinstance(raw, dict) or len(raw) > MAX_ARRAYS:
        raise Malformed("its report is not a table of lines")
    report = {}
    for case, parts in raw.items():
        if not isinstance(parts, dict) or len(parts) > 64:
            raise Malformed("its report is not a table of lines")
        if not all(isinstance(v, str) for v in parts.values()):
            raise Malformed("its report holds something other than lines")
        report[clean(case, 100)] = {clean(k, 100): clean(v, TEXT) for k, v in parts.items()}
    return report


def read_running(data: bytes) -> tuple:
    """(case, sub-part) the run was in, as the child last said."""
    raw = json_bounded(data)
    if not (isinstance(raw, dict) and all(isinstance(raw.get(k), str) for k in ("case", "part"))):
        raise Malformed("its progress note is not (case, part)")
    return clean(raw["case"], 100), clean(raw["part"], 100)

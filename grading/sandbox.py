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
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHILD = Path(__file__).with_name("child.py")
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


class PieceFailed(Exception):
    """The student's code did not give a result: the one-line reason."""


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


def run(
    package: Path,
    request: dict,
    inputs: dict,
    limits: Limits,
    scratch: Path,
    protection: Protection,
    files: dict | None = None,
) -> tuple[dict, dict]:
    """(arrays, report): what the student's code computed for ``request`` on ``inputs``, and
    what went wrong in it; PieceFailed when nothing usable came back. ``scratch`` is a new
    folder for this piece (inside one the grader made); ``package`` the submission's one copy."""
    uid = UIDS.get() if protection.root and protection.kind != "none" else None
    try:
        _stage(scratch, request, inputs, files or {}, uid)
        argv, cwd, env = _command(scratch, package, uid, protection)
        code = _wait(argv, cwd, env, scratch, limits, uid, protection)
        err = (scratch / "stderr").read_bytes()[-4000:].decode(errors="replace")
        result = scratch / "result"
        if code != 0 or not (result / "report.json").is_file():
            raise PieceFailed(_reason(code, limits, err))
        return _read(result, limits)
    finally:
        if uid is not None:
            UIDS.put(uid)


def _wait(argv, cwd, env, scratch: Path, limits: Limits, uid, protection: Protection) -> int:
    with open(scratch / "stdout", "wb") as so, open(scratch / "stderr", "wb") as se:
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
            return proc.wait(timeout=limits.seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -signal.SIGKILL
        finally:
            if protection.kind == "user":
                kill_user(uid)


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


def _reason(code: int, limits: Limits, err: str) -> str:
    if code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL, 128 + signal.SIGXCPU):
        return f"took longer than {limits.seconds:g} s"
    if code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return f"wrote more than {limits.output_mb} MB (printing?)"
    tail = [line for line in err.splitlines() if line.strip() and not line.startswith("bwrap:")]
    if tail and "MemoryError" in tail[-1]:
        return f"ran out of memory (limit {limits.memory_mb} MB)"
    last = tail[-1][:200] if tail else "no output"
    return f"exited with status {code} and no result: {last}"


# -- reading what came back, trusting none of it ----------------------------------------------
NUMERIC = "biuf"  # bool, signed and unsigned integers, floats: nothing else comes back
REPORT_BYTES = 256 * 1024


def _read(result: Path, limits: Limits) -> tuple[dict, dict]:
    return _read_arrays(result / "arrays.npz", limits.result_mb * 2**20), _read_report(
        result / "report.json"
    )


def _read_arrays(path: Path, budget: int) -> dict:
    """The npz's arrays, each header checked before its data is read: a name of plain
    characters, a numeric dtype, a shape whose bytes fit the budget and the member's size."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size > budget:
        raise PieceFailed("its result is missing or larger than allowed")
    arrays, total = {}, 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename.removesuffix(".npy")
                if not all(c.isalnum() or c in "_/-" for c in name) or len(name) > 200:
                    raise ValueError(f"a result named {name[:40]!r}")
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    header = {
                        (1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0,
                    }[version]
                    shape, fortran, dtype = header(f)
                    if dtype.kind not in NUMERIC or dtype.hasobject:
                        raise ValueError(f"{name}: values of type {dtype}, not numbers")
                    nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                    total += nbytes
                    if total > budget or nbytes > info.file_size:
                        raise ValueError(f"{name}: {nbytes} bytes claimed")
                    data = f.read(nbytes + 1)
                    if len(data) != nbytes:
                        raise ValueError(f"{name}: {len(data)} bytes for {nbytes}")
                    order = "F" if fortran else "C"
                    arrays[name] = np.frombuffer(data, dtype).reshape(shape, order=order).copy()
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, TypeError, KeyError) as e:
        raise PieceFailed(f"its result could not be read ({type(e).__name__}: {e})"[:200]) from None
    return arrays


def _read_report(path: Path) -> dict:
    """{case: {part: line}}: short strings only."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size > REPORT_BYTES:
        raise PieceFailed("its report is missing or larger than allowed")
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PieceFailed(f"its report could not be read ({type(e).__name__})") from None
    if not isinstance(raw, dict):
        raise PieceFailed("its report is not a table of lines")
    report = {}
    for case, parts in raw.items():
        if isinstance(case, str) and isinstance(parts, dict):
            report[case[:100]] = {
                str(k)[:100]: str(v)[:300] for k, v in parts.items() if isinstance(v, str)
            }
    return report

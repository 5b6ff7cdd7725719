"""Warm starts for the suite's ``python -m parametricSN ...`` processes: a template process imports the training
stack once (torch, torchvision, MLflow and its SQLAlchemy store, psn: about 10 s on a 2-core machine), and each
process a test starts is forked from it instead of importing it again.

The test starts ``[PYTHON, "-m", "parametricSN", ...]`` where :data:`PYTHON` is a small client script (standard
library only, ``python -S``). The client sends its argv, working directory, environment and its standard input,
output and error (the file descriptors themselves) to the template over a Unix socket; the template forks; the
child takes them over and runs the module as ``__main__``. The client forwards every signal it gets (INT, TERM, HUP,
QUIT, USR1, USR2) to the child and ends the way the child ended (its exit code, or killed by the same signal);
killed itself (SIGKILL), its child is killed too. So a test sees a real process: its own pid, signals, exit codes,
pipes, files and store, from a fresh environment and working directory, started in about 0.1 s.

What differs from a cold ``python`` (and so which tests stay cold): the process the test holds is the client, not
the Python process itself, so a test that looks for a process's children in ``/proc`` or relies on a parent's
death reaching a child (``PR_SET_PDEATHSIG``) starts cold (``tests/sweeps/test_processes.py``); so do the tests
that time start-up (``tests/test_startup.py``, the silent-server test). Environment variables that Python or the
preloaded libraries read only at start-up (``PYTHONPATH``, ``PYTHONWARNINGS``, ``PYTHONHASHSEED``, the locale, ...)
are compared: a client whose values differ from the template's runs cold. Anything else the client cannot route
(other arguments than ``-m parametricSN...``, no template) runs cold too: the client replaces itself with the real
interpreter. A child's ``sys.executable`` is the client, so the sweep workers it starts are warm as well.

The template is started by ``tests/conftest.py`` (``pytest_configure``, in pytest-xdist's controller, so the
workers share one) and stopped at the end of the session; ``PSN_TEST_WARM=0`` turns it off (every process cold).
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

# read by Python or a preloaded library only when a process starts: a client whose values differ runs cold
STARTUP_ENV = (
    "PYTHONPATH",
    "PYTHONWARNINGS",
    "PYTHONHASHSEED",
    "PYTHONDEVMODE",
    "PYTHONFAULTHANDLER",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONOPTIMIZE",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONHOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "MPLBACKEND",
)
# what the template imports before it forks: everything `psn train`, `psn sweep` and a sweep worker import
PRELOAD = (
    "parametricSN.cli",
    "parametricSN.training.run",
    "parametricSN.training.curves",
    "parametricSN.sweeps.cli",
    "parametricSN.sweeps.worker",
    "parametricSN.sweeps.cell",
    "parametricSN.sweeps.runner",
    "parametricSN.sweeps.tables",
    "parametricSN.tracking.store",
    "mlflow.store.tracking.sqlalchemy_store",
    "torch._dynamo",  # imported by torch's optimizers when the first one is built (torch/_compile.py): 2 s
)
FORWARDED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
# the interpreter tests start psn with: the client when a template serves this session, else the real one
PYTHON = os.environ.get("PSN_TEST_PYTHON") or sys.executable

CLIENT = r"""
import json, os, signal, socket, struct, sys

REAL, SOCKET, FORWARDED = {real!r}, {socket!r}, {forwarded!r}
args = sys.argv[1:]


def cold():
    os.execv(REAL, [REAL, *args])


if len(args) < 2 or args[0] != "-m" or args[1].split(".")[0] != "parametricSN":
    cold()
for fd in (0, 1, 2):
    try:
        os.fstat(fd)
    except OSError:
        cold()
child, pending = [0], []


def forward(signum, frame):
    if child[0]:
        try:
            os.kill(child[0], signum)
        except ProcessLookupError:
            pass
    else:
        pending.append(signum)


ignored = []
for name in FORWARDED:
    number = getattr(signal, name)
    if signal.getsignal(number) == signal.SIG_IGN:
        ignored.append(name)
    else:
        signal.signal(number, forward)
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    conn.connect(SOCKET)
except OSError:
    cold()
header = json.dumps({{
    "argv": args[1:], "cwd": os.getcwd(), "env": dict(os.environ), "executable": os.path.abspath(sys.argv[0]),
    "leader": os.getsid(0) == os.getpid(), "ignored": ignored,
}}).encode()
socket.send_fds(conn, [struct.pack("!I", len(header)) + header], [0, 1, 2])


def receive(n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            sys.stderr.write("tests/warm.py client: the template process went away\n")
            os._exit(70)
        data += chunk
    return data


conn.settimeout(600)  # the template imports for seconds before it accepts; a stuck one fails the test, not CI
try:
    kind = receive(1)
except OSError:
    sys.stderr.write("tests/warm.py client: no answer from the template in 600 s\n")
    os._exit(70)
conn.settimeout(None)
if kind == b"C":
    conn.close()
    cold()
child[0] = struct.unpack("!i", receive(4))[0]
for signum in pending:
    forward(signum, None)
code = struct.unpack("!i", receive(4))[0]
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
    code = 128 - code
os._exit(code)
"""


def processes_in(folder: Path) -> dict[int, int]:
    """``{pid: parent pid}`` of the live (not zombie) processes whose working directory is ``folder``: a warm
    process's client and the template's child it stands for share the client's directory (Linux ``/proc``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")) == folder:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z":
                    found[int(entry.name)] = int(stat[1])
        except (OSError, IndexError, ValueError):
            continue
    return found


def client_script(path: str, socket_path: str, real: str) -> None:
    """Write the client to ``path`` (executable, run by ``real -S``)."""
    with open(path, "w") as f:
        f.write(f"#!{real} -S\n" + CLIENT.format(real=real, socket=socket_path, forwarded=FORWARDED))
    os.chmod(path, 0o755)


def start(folder: str) -> subprocess.Popen | None:
    """Start a template serving ``folder/socket`` and write its client to ``folder/python``; sets
    ``PSN_TEST_PYTHON`` for this process and the ones it starts. None where a shebang cannot hold the path."""
    real = sys.executable
    if " " in real or len(real) > 200 or not sys.platform.startswith("linux"):
        return None
    path = os.path.join(folder, "socket")
    client_script(os.path.join(folder, "python"), path, real)
    with open(os.path.join(folder, "template.log"), "w") as log:
        proc = subprocess.Popen(
            [real, os.path.abspath(__file__), "serve", path],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    global PYTHON
    PYTHON = os.environ["PSN_TEST_PYTHON"] = os.path.join(folder, "python")
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stop the template (it kills the children it still has)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    size = struct.unpack("!I", data[:4])[0]
    data = data[4:]
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("client closed")
        data += chunk
    return json.loads(data), fds


def _stream(fd: int, unbuffered: bool, encoding: str) -> io.TextIOWrapper:
    """A standard stream the way Python makes one at start-up (line-buffered on a terminal, stderr always)."""
    if fd == 0:
        raw = io.FileIO(fd, "r", closefd=False)
        return io.TextIOWrapper(io.BufferedReader(raw), encoding=encoding, line_buffering=raw.isatty())
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=encoding,
        errors="backslashreplace" if fd == 2 else "strict",
        line_buffering=raw.isatty() or fd == 2,
        write_through=unbuffered,
    )


def _become(request: dict, fds: list[int], conn: socket.socket) -> None:
    """In the forked child: take over the client's descriptors, directory, environment and signal dispositions."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    env = request["env"]
    os.environ.clear()
    os.environ.update(env)
    if request["leader"]:
        os.setsid()
    for name in FORWARDED:
        number = getattr(signal, name)
        if name in request["ignored"]:
            signal.signal(number, signal.SIG_IGN)
        else:
            signal.signal(number, signal.default_int_handler if name == "SIGINT" else signal.SIG_DFL)
    encoding = sys.stdout.encoding
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = sys.__stdin__ = _stream(0, unbuffered, encoding)
    sys.stdout = sys.__stdout__ = _stream(1, unbuffered, encoding)
    sys.stderr = sys.__stderr__ = _stream(2, unbuffered, encoding)
    sys.argv = list(request["argv"])  # [module, *arguments]; runpy puts the module's file first
    sys.executable = request["executable"]
    sys.path.insert(0, request["cwd"])  # `python -m` puts the working directory first
    import importlib

    importlib.invalidate_caches()
    if "torch" in sys.modules:  # torch's default: OMP_NUM_THREADS, else a thread per core
        threads = env.get("OMP_NUM_THREADS", "").strip()
        sys.modules["torch"].set_num_threads(int(threads) if threads.isdigit() else len(os.sched_getaffinity(0)))

    def watch() -> None:  # the client died (SIGKILL): so does the process it stands for
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, daemon=True, name="warm-client-watch").start()


def serve(path: str) -> str:
    """Bind ``path``, import :data:`PRELOAD`, then fork a child per client. Returns (in the child only) the
    module the child is to run; the template itself runs until SIGTERM, then kills the children it has."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(128)  # clients wait in the backlog while the template imports
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:  # forking a process with threads is not safe: every client runs cold
        sys.stderr.write(f"tests/warm.py: {threading.active_count()} threads after the imports; serving cold\n")
    warm = threading.active_count() == 1
    startup = {k: os.environ.get(k) for k in STARTUP_ENV}
    children: dict[int, socket.socket] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)

    def stop(*_) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            ready, _, _ = select.select([listener, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                try:
                    conn.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
                except OSError:
                    pass
                conn.close()
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            continue
        if not warm or {k: request["env"].get(k) for k in STARTUP_ENV} != startup or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.sendall(b"C")
            conn.close()
            continue
        pid = os.fork()
        if pid == 0:
            listener.close()
            for other in children.values():
                other.close()
            signal.set_wakeup_fd(-1)
            os.close(wake_r)
            os.close(wake_w)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _become(request, fds, conn)
            return request["argv"][0]
        for fd in fds:
            os.close(fd)
        children[pid] = conn
        try:
            conn.sendall(b"P" + struct.pack("!i", pid))
        except OSError:
            pass


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.exit("usage: python tests/warm.py serve SOCKET")
    import runpy

    sys.path.pop(0)  # this script's folder (tests/) is not on a psn process's path
    runpy.run_module(serve(sys.argv[2]), run_name="__main__", alter_sys=True)  # in a child: its own __main__

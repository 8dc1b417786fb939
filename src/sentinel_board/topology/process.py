from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from sentinel_board.topology.layout import TopologyError

# Processes this interpreter started: kept so that they are reaped, not reported as leaked.
_children: dict[int, subprocess.Popen[bytes]] = {}


def require_linux() -> None:
    """The launcher follows its processes through /proc (their state, their folder): Linux."""
    if not sys.platform.startswith("linux"):
        raise TopologyError(
            f"the local launcher runs on Linux only, not on {sys.platform}: it follows its "
            "processes through /proc",
            "run the deployment in containers instead (make compose-up), or run Redis "
            "yourself and point `sentinel-board serve` at its sentinels",
        )


def spawn(
    argv: Sequence[str],
    *,
    workdir: Path,
    pid_path: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    umask: int = 0o077,
) -> int:
    """Start a process in its own session, so Ctrl-C reaches only us; we stop it by pid.

    By default what it writes (a node's data, the configs Sentinel rewrites) is its owner's
    only."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=umask,
            cwd=workdir,
            env=None if env is None else {**os.environ, **env},
        )
    _children[process.pid] = process
    pid_path.write_text(f"{process.pid}\n")
    return process.pid


@atexit.register
def _reap_exited() -> None:
    """Collect the children that ended while we did not look (another process stopped them):
    unreaped, each would be reported at exit as a subprocess still running."""
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            del _children[pid]


def read_pid(pid_path: Path) -> int | None:
    try:
        return int(pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command's name (which may hold spaces): the state
    first, then the parent's pid, ...; None for a process gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rpartition(")")[2].split()


def _state(pid: int) -> str | None:
    fields = stat_fields(pid)
    return None if fields is None else fields[0]


def _reap(pid: int) -> None:
    """Collect a zombie child. Its other threads may still be exiting: wait for them."""
    child = _children.get(pid)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)
            del _children[pid]
        return
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    state = _state(pid)
    if state in ("Z", "X"):
        _reap(pid)
        return False
    return state is not None


def is_stopped(pid: int) -> bool:
    return _state(pid) in ("T", "t")


def owns(pid: int, workdir: Path) -> bool:
    """The pid still runs what we started, not a recycled pid: it works in the node's own dir.

    (Redis rewrites its command line, so that cannot tell.)
    """
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == workdir
    except OSError:
        return False


def live_pid(pid_path: Path, workdir: Path) -> int | None:
    pid = read_pid(pid_path)
    return pid if pid is not None and is_alive(pid) and owns(pid, workdir) else None


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not gone within `timeout`."""
    try:
        if is_stopped(pid):
            os.kill(pid, signal.SIGCONT)  # a SIGSTOPped process cannot act on SIGTERM
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, timeout)
    except ProcessLookupError:
        pass


def signal_node(pid: int, sig: signal.Signals, timeout: float = 10.0) -> None:
    """Send `sig` and return once it took effect: gone, stopped or running again."""
    os.kill(pid, sig)
    if sig in (signal.SIGKILL, signal.SIGTERM):
        done = wait_gone(pid, timeout)
    else:
        deadline = time.monotonic() + timeout
        while is_stopped(pid) != (sig == signal.SIGSTOP) and time.monotonic() < deadline:
            time.sleep(0.01)
        done = is_stopped(pid) == (sig == signal.SIGSTOP)
    if not done:
        raise TopologyError(f"process {pid} did not act on {sig.name} within {timeout:g} s")

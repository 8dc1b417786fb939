"""A Docker engine for the compose deployment: the one that answers, or one we start and stop.

Started only when no engine answers, we may (root) and `dockerd` is installed: on the default
socket, so that `docker` and `docker compose` find it, with its images under the user's cache
(they outlive it: the next start is fast), its log there too, and its run state in
/run/sentinel-board. Who started it (`compose up`, the tests, a drill) is recorded, so that
`compose down` stops only its own. What it did to the machine is undone when it stops
(machine.py). Starting and stopping hold a lock: two commands never start two engines.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from sentinel_board.compose import machine
from sentinel_board.compose.machine import Snapshot
from sentinel_board.topology import process
from sentinel_board.topology.layout import TopologyError

RUN_DIR = Path("/run/sentinel-board")
STATE = RUN_DIR / "engine.json"
SOCKET = "unix:///var/run/docker.sock"
# Subnets of our own (see the README): the engine's default bridge (`docker build` runs on
# it) and the pool of networks made without a subnet. compose.yaml's network is on
# 172.29.90.0/24 and the tests' projects on 172.29.91-99.0/24 (project.free_net).
BRIDGE_SUBNET = "172.29.87.1/24"
POOL = "172.29.100.0/22"
START_WITHIN = 60.0
STOP_WITHIN = 30.0
# The processes of an engine, which name our folders on their command lines.
ENGINE_PROGRAMS = {b"dockerd", b"containerd", b"containerd-shim-runc-v2", b"docker-proxy"}
NO_ACCESS_HINT = "add the user to the docker group (sudo usermod -aG docker $USER), log in again"


class EngineError(TopologyError):
    """No Docker engine to run on, and why; the hint says what to do."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sentinel-board"


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`docker ARGS`; a failure is an EngineError with what docker said."""
    try:
        done = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise EngineError(
            "the docker command is missing", "install Docker (Debian: apt-get install docker.io)"
        ) from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"docker {' '.join(args[:2])} did not finish in {timeout:g} s") from None
    if check and done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise EngineError(f"docker {' '.join(args[:3])}: {said[-1] if said else 'failed'}")
    return done


def server_version() -> str | None:
    """The engine's version, or None when no engine answers (this user)."""
    try:
        done = docker("version", "--format", "{{.Server.Version}}", timeout=15, check=False)
    except EngineError:
        return None
    if "permission denied" in done.stderr.lower():
        raise EngineError("a Docker engine runs, but this user may not use it", NO_ACCESS_HINT)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


@dataclass(frozen=True)
class Started:
    """An engine we started, who for, and what the machine was like before."""

    pid: int
    owner: str  # "compose up", "tests", "drill"
    before: Snapshot

    @classmethod
    def from_json(cls, text: str) -> Started:
        data = json.loads(text)
        return cls(data["pid"], data["owner"], Snapshot(**data["before"]))


def may_start() -> str | None:
    """None when we may start an engine here, else why not."""
    if os.geteuid() != 0:
        return "starting a Docker engine needs root"
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (Debian: apt-get install docker.io)"
    return None


@contextmanager
def _locked() -> Iterator[None]:
    lock = cache_dir() / "engine.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


def ensure(owner: str) -> Started | None:
    """An engine that answers: the one there is (None), or one we start for `owner`."""
    if server_version() is not None:
        return None
    if os.environ.get("DOCKER_HOST"):
        raise EngineError(
            f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}",
            "start it, or unset DOCKER_HOST to let us start one on the default socket",
        )
    if (why := may_start()) is not None:
        raise EngineError(f"no Docker engine answers, and {why}", "start Docker, then try again")
    with _locked():
        if server_version() is not None:  # another command started one meanwhile
            return None
        if (stale := recorded()) is not None:  # one that died: undo what it left first
            _stop(stale)
        for subnet in (BRIDGE_SUBNET, POOL):
            if (taken := machine.overlaps(subnet)) is not None:
                raise EngineError(
                    f"the engine's subnet {subnet} overlaps this machine's network {taken}",
                    "start Docker yourself with subnets that fit (dockerd --bip, "
                    "--default-address-pool), then try again",
                )
        return _start(owner)


def _start(owner: str) -> Started:
    RUN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_root = cache_dir() / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    before = Snapshot.now()
    log = cache_dir() / "dockerd.log"  # kept after it stops, to read why it failed
    argv = ["dockerd", "-H", SOCKET, "--data-root", str(data_root), "--ip6tables=false"]
    argv += ["--exec-root", str(RUN_DIR / "exec"), "--pidfile", str(RUN_DIR / "dockerd.pid")]
    argv += ["--bip", BRIDGE_SUBNET, "--default-address-pool", f"base={POOL},size=24"]
    # The usual umask: containers' users must read what the engine writes for them.
    pid = process.spawn(argv, workdir=RUN_DIR, pid_path=RUN_DIR / "pid", log_path=log, umask=0o022)
    started = Started(pid, owner, before)
    STATE.write_text(json.dumps(asdict(started)))
    deadline = time.monotonic() + START_WITHIN
    while server_version() is None:
        if not process.is_alive(pid) or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            _stop(started)
            raise EngineError("dockerd did not start: " + " / ".join(tail), f"its log: {log}")
        time.sleep(0.2)
    return started


def recorded() -> Started | None:
    """The engine a command started and recorded, running or not (then it left things)."""
    try:
        return Started.from_json(STATE.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running(started: Started) -> bool:
    return started.pid in _engine_processes()


def stop(started: Started) -> None:
    """Stop the engine we started, by its pid, and undo what it did to the machine."""
    with _locked():
        _stop(started)


def _stop(started: Started) -> None:
    for pid in _engine_processes():  # dockerd first: it stops its containers and containerd
        process.stop(pid, STOP_WITHIN if pid == started.pid else 5)
    machine.undo(started.before)
    if not _engine_processes():
        shutil.rmtree(RUN_DIR, ignore_errors=True)


def _engine_processes() -> list[int]:
    """dockerd, its containerd and the containers' shims: the programs of an engine whose
    command line names our run folder, dockerd first."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        program = Path(argv[0].decode(errors="replace")).name.encode()
        if program in ENGINE_PROGRAMS and str(RUN_DIR).encode() in b" ".join(argv):
            found.append((program != b"dockerd", int(entry.name)))
    return [pid for _, pid in sorted(found) if process.is_alive(pid)]


def leftovers(started: Started) -> list[str]:
    """What the engine left on the machine after `stop`: processes, links, rules, settings."""
    left = [f"process {pid}" for pid in _engine_processes()]
    return left + machine.leftovers(started.before)

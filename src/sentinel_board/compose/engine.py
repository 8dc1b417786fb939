"""A Docker engine for the compose deployment: the one that answers, or one we start and stop.

Started only when no engine answers, we may (root) and `dockerd` is installed: on the default
socket, so that `docker` and `docker compose` find it, with its images under the user's cache
(they outlive it: the next start is fast) and its run state in /run/sentinel-board. What it
did to the machine is undone when we stop it: its bridges, the firewall rules and chains it
added, the FORWARD policy and IP forwarding as they were before.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sentinel_board.topology import process
from sentinel_board.topology.layout import TopologyError

RUN_DIR = Path("/run/sentinel-board")
STATE = RUN_DIR / "engine.json"
SOCKET = "unix:///var/run/docker.sock"
# Subnets of our own (see the README): the engine's default bridge (`docker build` runs on
# it) and the pool of networks made without a subnet. compose.yaml's network is on
# 172.29.90.0/24 and the tests' projects on 172.29.91-99.0/24 (project.free_net).
BRIDGE_SUBNET = "172.29.87.1/24"
ADDRESS_POOL = "base=172.29.100.0/22,size=24"
START_WITHIN = 60.0
STOP_WITHIN = 30.0
TABLES = ("filter", "nat")
# What a Docker engine adds to a firewall and to the links, and nothing of anyone else.
OURS = re.compile(r"DOCKER|docker0|br-[0-9a-f]{12}|172\.29\.")


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
    """The engine's version, or None when no engine answers."""
    try:
        done = docker("version", "--format", "{{.Server.Version}}", timeout=15, check=False)
    except EngineError:
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


@dataclass(frozen=True)
class Started:
    """An engine we started, and what the machine was like before."""

    pid: int
    rules: dict[str, list[str]]  # `iptables -S` of each table
    links: list[str]
    ip_forward: str


def _rules() -> dict[str, list[str]]:
    if shutil.which("iptables") is None:
        return {}
    return {
        table: subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        for table in TABLES
    }


def _links() -> list[str]:
    return sorted(path.name for path in Path("/sys/class/net").iterdir())


def _ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


def may_start() -> str | None:
    """None when we may start an engine here, else why not."""
    if os.geteuid() != 0:
        return "starting a Docker engine needs root"
    if shutil.which("dockerd") is None:
        return "dockerd is not installed (Debian: apt-get install docker.io)"
    return None


def ensure() -> Started | None:
    """An engine that answers: the one there is (None), or one we start (what we started)."""
    if server_version() is not None:
        return None
    if os.environ.get("DOCKER_HOST"):
        raise EngineError(
            f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}",
            "start it, or unset DOCKER_HOST to let us start one on the default socket",
        )
    if (why := may_start()) is not None:
        raise EngineError(f"no Docker engine answers, and {why}", "start Docker, then try again")
    return start()


def start() -> Started:
    RUN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_root = cache_dir() / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    before = Started(0, _rules(), _links(), _ip_forward())
    log = RUN_DIR / "dockerd.log"
    argv = ["dockerd", "-H", SOCKET, "--data-root", str(data_root)]
    argv += ["--exec-root", str(RUN_DIR / "exec"), "--pidfile", str(RUN_DIR / "dockerd.pid")]
    argv += ["--bip", BRIDGE_SUBNET, "--default-address-pool", ADDRESS_POOL]
    # The usual umask: containers' users must read what the engine writes for them.
    pid = process.spawn(argv, workdir=RUN_DIR, pid_path=RUN_DIR / "pid", log_path=log, umask=0o022)
    started = Started(pid, before.rules, before.links, before.ip_forward)
    STATE.write_text(json.dumps(asdict(started)))
    deadline = time.monotonic() + START_WITHIN
    while server_version() is None:
        if not process.is_alive(pid) or time.monotonic() > deadline:
            stop(started)
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise EngineError("dockerd did not start: " + " / ".join(tail), f"its log: {log}")
        time.sleep(0.2)
    return started


def recorded() -> Started | None:
    """The engine a previous command started and left running, if any."""
    try:
        data = json.loads(STATE.read_text())
    except (OSError, ValueError):
        return None
    started = Started(**data)
    return started if _ours(started.pid) else None


def _ours(pid: int) -> bool:
    """The pid is still the dockerd we started, not a recycled one."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(argv) and argv[0].endswith(b"dockerd") and str(RUN_DIR).encode() in b" ".join(argv)


def stop(started: Started) -> None:
    """Stop the engine we started, by its pid, and undo what it did to the machine."""
    if _ours(started.pid):
        process.stop(started.pid, STOP_WITHIN)  # it stops its containers and its containerd
    for pid in _engine_processes():  # were it killed: its containerd and container shims
        process.stop(pid)
    for link in sorted(set(_links()) - set(started.links)):
        if OURS.fullmatch(link):
            subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
    _restore_firewall(started.rules)
    Path("/proc/sys/net/ipv4/ip_forward").write_text(started.ip_forward)
    if not _engine_processes():
        shutil.rmtree(RUN_DIR, ignore_errors=True)


def _engine_processes() -> list[int]:
    """The processes of an engine we started: dockerd, its containerd and shims all name
    their folder in RUN_DIR on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and str(RUN_DIR).encode() in argv:
            found.append(int(entry.name))
    return [pid for pid in found if process.is_alive(pid)]


def leftovers(started: Started) -> list[str]:
    """What the engine left on the machine after `stop`: links, firewall rules, settings."""
    left = [f"link {link}" for link in set(_links()) - set(started.links) if OURS.fullmatch(link)]
    for table, lines in _rules().items():
        old = set(started.rules.get(table, []))
        left += [f"{table}: {line}" for line in lines if line not in old and OURS.search(line)]
        left += [f"{table}: {line}" for line in lines if line.startswith("-P ") and line not in old]
    if _ip_forward() != started.ip_forward:
        left.append(f"net.ipv4.ip_forward={_ip_forward()}")
    left += [f"process {pid}" for pid in _engine_processes()]
    return left


def _restore_firewall(before: dict[str, list[str]]) -> None:
    for table, lines in _rules().items():
        old = set(before.get(table, []))
        added = [line for line in lines if line not in old and OURS.search(line)]
        for line in added:  # rules first, then the chains they used
            if line.startswith("-A "):
                _iptables(table, "-D", *shlex.split(line)[1:])
        for line in added:
            if line.startswith("-N "):
                _iptables(table, "-F", line.split()[1])
                _iptables(table, "-X", line.split()[1])
        for line in old:  # dockerd sets FORWARD's policy to DROP
            if line.startswith("-P ") and line not in lines:
                _iptables(table, *line.split())


def _iptables(table: str, *args: str) -> None:
    subprocess.run(["iptables", "-w", "-t", table, *args], capture_output=True, check=False)

"""The apps under test, started by pid and stopped by pid: ours, and the reference peer."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sentinel_board.topology import Topology, TopologySpec, process
from sentinel_board.topology.ports import free_ports
from sentinel_board.web.server import HttpServer

ROOT = Path(__file__).parent.parent  # the checkout: bench/ is importable from here
# The seed translated literally (bench/peers/seed_flask); SENTINEL_BOARD_PEER_DIR: another.
PEER = Path(
    os.environ.get("SENTINEL_BOARD_PEER_DIR") or Path(__file__).parent / "peers" / "seed_flask"
)
PEER_NAME = "seed_flask, 4 workers"


@dataclass
class Server:
    name: str
    url: str
    pid: int
    http: str = ""  # ours: the HTTP server (uvicorn or granian)

    def stop(self) -> None:
        process.stop(self.pid)


def start_topology(folder: Path) -> Topology:
    """Three data nodes and three sentinels on free ports, auth on; the apps come apart."""
    ports = free_ports(6)
    spec = TopologySpec(
        run_dir=folder / "topology", app_port=None, data_ports=ports[:3], sentinel_ports=ports[3:]
    )
    return Topology.up(spec)


def _ready(url: str, deadline: float, pid: int, log: Path) -> None:
    while time.monotonic() < deadline:
        if not process.is_alive(pid):
            raise RuntimeError(f"{url} exited; its log: {log}\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within the deadline; its log: {log}")


def start_ours(
    topology: Topology,
    port: int,
    workers: int,
    folder: Path,
    http_server: HttpServer = "uvicorn",
    floor: bool = False,
    env: dict[str, str] | None = None,
) -> Server:
    """`sentinel-board serve` with `workers` behind `http_server`; `floor`: the same, its
    store answering from memory (bench/floor.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    module = "bench.floor" if floor else "sentinel_board"
    command = [sys.executable, "-m", module] + (
        [] if floor else ["serve", "--log-level", "warning"]
    )
    command += ["--port", str(port), "--workers", str(workers), "--http-server", http_server]
    name = f"{'floor' if floor else 'ours'}-{http_server}-{workers}"
    log = folder / f"{name}.log"
    pid = process.spawn(
        command, workdir=ROOT, pid_path=folder / f"{name}.pid", log_path=log,
        env={**topology.app_env(), **(env or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _ready(url + "/readyz", time.monotonic() + 30, pid, log)
    label = f"{'floor' if floor else 'sentinel-board'}, {http_server}, {workers} worker"
    return Server(label + ("s" if workers > 1 else ""), url, pid, http_server)


def start_peer(topology: Topology, port: int, folder: Path) -> Server:
    """The seed translated literally: Flask, sync redis-py Sentinel, gunicorn with 4 workers."""
    if not (PEER / "app.py").exists():
        raise RuntimeError(f"the reference peer is not at {PEER}")
    assert topology.credentials is not None
    env = {
        "SENTINELS": ",".join(f"{h}:{p}" for h, p in topology.sentinel_addresses),
        # The peer knows no ACL user: it signs in as the default user.
        "REDIS_PASSWORD": topology.credentials.admin,
        "SENTINEL_PASSWORD": topology.credentials.sentinel,
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    command = [gunicorn, "-w", "4", "-b", f"127.0.0.1:{port}", "--chdir", str(PEER), "app:app"]
    log = folder / "peer.log"
    pid = process.spawn(
        command, workdir=folder, pid_path=folder / "peer.pid", log_path=log, env=env
    )
    url = f"http://127.0.0.1:{port}"
    _ready(url + "/unread-list/size", time.monotonic() + 30, pid, log)
    return Server(PEER_NAME, url, pid)

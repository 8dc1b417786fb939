"""What a drill breaks: a local topology of its own per run, or a Docker Compose project.

Both offer the same few things to a scenario (find a node by its role and fault it, bring it
back, cut it off the network and heal it, a lone client writing to it) and to the verdict
(each node's role and lists). Faults are signals and network namespaces locally, Docker's
kill, stop, pause, start and network disconnect in containers.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from sentinel_board.compose import engine, own
from sentinel_board.compose.engine import docker
from sentinel_board.compose.own import own_project
from sentinel_board.compose.project import MASTER_NAME, Project
from sentinel_board.drills.options import Options
from sentinel_board.keys import Keys
from sentinel_board.topology import Topology, faults, netns, probe, process, render, servers
from sentinel_board.topology.deploy import COMPOSE_DATA_HOSTS, COMPOSE_SENTINEL_HOSTS
from sentinel_board.topology.launcher import SentinelAccess
from sentinel_board.topology.layout import TopologyError

Address = tuple[str, int]
KEYS = (Keys().unread, Keys().read)  # the board's, without a prefix


class Target(Protocol):
    kind: str  # local or compose
    server: str  # what runs the nodes, as it says: "Redis 7.0.15"
    app_url: str
    data_nodes: list[str]
    sentinel_addresses: list[Address]
    sentinel_options: SentinelAccess

    def master_name(self) -> str | None: ...
    def role(self, node: str) -> str | None: ...
    def lists(self, node: str) -> tuple[list[str], list[str]] | None: ...
    def is_alive(self, node: str) -> bool: ...
    def kill(self, role: str, index: int, sig: signal.Signals) -> str: ...
    def start(self, node: str) -> None: ...
    def cut(self, node: str) -> None: ...
    def heal(self, node: str) -> None: ...
    def lone_writer(self, node: str, seconds: float) -> list[dict[str, object]]: ...


class LocalTarget:
    """A topology the launcher started on 127.0.0.1 (in network namespaces for a partition)."""

    kind = "local"

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.server = servers.find(topology.spec.server).label
        assert topology.spec.app_url is not None
        self.app_url = topology.spec.app_url
        self.data_nodes = [node.name for node in topology.data_nodes]
        self.sentinel_addresses = topology.sentinel_addresses
        self.sentinel_options = topology.sentinel_options

    def master_name(self) -> str | None:
        return self.topology.master_name()

    def role(self, node: str) -> str | None:
        return self.topology.role(self.topology.node(node))

    def lists(self, node: str) -> tuple[list[str], list[str]] | None:
        found = [self.topology.ask(self.topology.node(node), "LRANGE", key, 0, -1, timeout=5)
                 for key in KEYS]  # fmt: skip
        return None if None in found else (found[0], found[1])

    def is_alive(self, node: str) -> bool:
        return self.topology.is_alive(node)

    def kill(self, role: str, index: int, sig: signal.Signals) -> str:
        return faults.kill(self.topology, role, index, sig).name

    def start(self, node: str) -> None:
        self.topology.start(node)

    def cut(self, node: str) -> None:
        netns.cut(self.topology.node(node))

    def heal(self, node: str) -> None:
        netns.heal(self.topology.node(node))

    def lone_writer(self, node: str, seconds: float) -> list[dict[str, object]]:
        """A client writing to `node` from inside its namespace (drills/lone_writer.py)."""
        found = self.topology.node(node)
        out = found.dir / "lone-writer.jsonl"
        argv = [sys.executable, "-m", "sentinel_board.drills.lone_writer"]
        argv += [str(found.port), str(seconds), str(out)]
        pid = process.spawn(
            netns.wrap(found, argv),
            workdir=found.dir,
            pid_path=found.dir / "lone-writer.pid",
            log_path=found.dir / "lone-writer.log",
            env=self.topology.app_env(),
        )
        process.wait_gone(pid, seconds + 10)
        return [json.loads(line) for line in out.read_text().splitlines()]


SIGNALS = {signal.SIGKILL: "kill", signal.SIGTERM: "stop", signal.SIGSTOP: "pause"}


class ComposeTarget:
    """A running compose project: faults are Docker's; the nodes answer at their addresses."""

    kind = "compose"

    def __init__(self, project: Project) -> None:
        self.project = project
        info = project.ask("redis-1", "INFO", "server", timeout=2) or {}
        kind = "valkey" if "valkey_version" in info else "redis"
        version = info.get(f"{kind}_version", "?")
        self.server = f"{kind.capitalize()} {version}"
        self.image = project.inspect("redis-1", "{{.Config.Image}}")
        self.app_url = project.url
        self.data_nodes = list(COMPOSE_DATA_HOSTS)
        self.sentinel_addresses = [
            (address, 26379)
            for address in map(project.address, COMPOSE_SENTINEL_HOSTS)
            if address is not None
        ]
        self.sentinel_options = SentinelAccess(password=project.credentials.sentinel, tls_ca=None)

    def master_name(self) -> str | None:
        return self.project.master()

    def role(self, node: str) -> str | None:
        return self.project.role(node)

    def lists(self, node: str) -> tuple[list[str], list[str]] | None:
        found = [self.project.ask(node, "LRANGE", key, 0, -1, timeout=5) for key in KEYS]
        return None if None in found else (found[0], found[1])

    def is_alive(self, node: str) -> bool:
        return self.project.running(node)

    def kill(self, role: str, index: int, sig: signal.Signals) -> str:
        """SIGKILL: `docker kill`; SIGTERM: `docker stop`; SIGSTOP, SIGCONT: pause, unpause."""
        paused = [n for n in self.data_nodes if self._state(n) == "paused"]
        if sig == signal.SIGCONT:
            candidates = paused
        elif role == "master":
            master = self.project.master()
            candidates = [master] if master in self.data_nodes and master not in paused else []
        elif role == "replica":
            master = self.project.master()
            candidates = [
                n for n in self.data_nodes
                if n != master and self.is_alive(n) and self.role(n) == "replica"
            ]  # fmt: skip
        else:
            candidates = [n for n in COMPOSE_SENTINEL_HOSTS if self.is_alive(n)]
        if not 1 <= index <= len(candidates):
            raise TopologyError(f"no running {role} number {index} to {sig.name}")
        node = candidates[index - 1]
        self.project.act(SIGNALS.get(sig, "unpause"), node)
        return node

    def _state(self, node: str) -> str:
        return self.project.inspect(node, "{{.State.Status}}")

    def start(self, node: str) -> None:
        self.project.act("unpause" if self._state(node) == "paused" else "start", node)
        deadline = time.monotonic() + 30
        while self.project.ask(node, "PING") is not True:
            if time.monotonic() > deadline:
                raise TopologyError(f"{node} does not answer 30 s after its start")
            time.sleep(0.1)

    @property
    def _cut(self) -> Path:
        """What `cut` took away (address, names), kept on disk for whoever heals: a drill
        that stopped half-way leaves it for the next one's `restore`."""
        return self.project.out / "cut.json"

    def cut(self, node: str) -> None:
        """Off the network: `docker network disconnect`; its address and names kept for heal."""
        template = '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{join .Aliases " "}}{{end}}'
        address, *aliases = self.project.inspect(node, template).split()
        taken = json.loads(self._cut.read_text()) if self._cut.exists() else {}
        self._cut.write_text(json.dumps({**taken, node: [address, aliases]}))
        docker("network", "disconnect", self.project.network, self.project.container(node))

    def heal(self, node: str) -> None:
        """Back on the network, on its own address and with its names."""
        taken = json.loads(self._cut.read_text())
        address, aliases = taken.pop(node)
        options = [f"--alias={alias}" for alias in aliases] + [f"--ip={address}"]
        docker("network", "connect", *options, self.project.network, self.project.container(node))
        self._cut.write_text(json.dumps(taken))

    def lone_writer(self, node: str, seconds: float) -> list[dict[str, object]]:
        return self.project.lone_writer(node, seconds)

    def restore(self) -> None:
        """Every container running and on the network again, the deployment settled: as a
        run must find the project, and as a drill must leave it."""
        for service in [*self.data_nodes, *COMPOSE_SENTINEL_HOSTS, "app"]:
            state = self._state(service)
            if state == "paused":
                self.project.act("unpause", service)
            elif state != "running":
                self.project.act("start", service)
        if self._cut.exists():
            for node in json.loads(self._cut.read_text()):
                self.heal(node)
        own.settle(self.project)


@contextmanager
def compose_target(
    root: Path, options: Options, server: str | None, say: Callable[[str], None], fresh: bool
) -> Iterator[tuple[ComposeTarget, Options]]:
    """The compose project `make compose-up` runs, with its own settings, left as it was found
    (every container back); or, when none runs or `fresh`, a project of the drill's own with
    `options` and `server`, removed at the end."""
    running = Project(root, root)
    if not fresh and engine.server_version() is not None and running.containers():
        target = ComposeTarget(running)
        if server is not None and not target.server.lower().startswith(server):  # a kind
            raise TopologyError(
                f"the running compose project runs {target.server}, not {server}",
                "drop --server to drill it, or pass --fresh for a project of the drill's own",
            )
        settings = render.read_env_file(running.out / "app.env")
        if not settings:
            raise TopologyError(
                f"no {running.out / 'app.env'}: the running project's settings",
                "run the drill from the checkout that started it (make compose-up)",
            )
        view = probe.fields(running.ask("sentinel-1", "SENTINEL", "MASTER", MASTER_NAME))
        options = replace(
            options,
            down_after_ms=int(view.get("down-after-milliseconds", options.down_after_ms)),
            failover_deadline=float(settings.get("SENTINEL_BOARD_FAILOVER_DEADLINE", 10)),
            read_from=settings.get("SENTINEL_BOARD_READ_FROM", "master"),
        )
        say(f"Drilling the running compose project {running.name} ({target.server}), with "
            f"its settings: down-after {options.down_after_ms} ms, the board's failover "
            f"deadline {options.failover_deadline:g} s, read_from {options.read_from}")  # fmt: skip
        try:
            yield target, options
        finally:
            target.restore()
        return
    app = {
        "SENTINEL_BOARD_FAILOVER_DEADLINE": str(options.failover_deadline),
        "SENTINEL_BOARD_READ_FROM": options.read_from,
    }
    with own_project(
        root, owner="drill", server=server or "redis", down_after_ms=options.down_after_ms,
        app_settings=app, say=say,
    ) as project:  # fmt: skip
        yield ComposeTarget(project), options

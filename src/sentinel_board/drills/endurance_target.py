"""What the endurance drill needs of a target beyond what a scenario does (drills/targets.py).

To know when the deployment has recovered, to compare and read the lists without copying
them whole each time, and to see what Redis holds. `LocalEnduranceTarget` is the local
topology's; a compose target (`ComposeTarget`) would implement the same few methods, and the
drill would run on it unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import redis

from sentinel_board.compose.engine import docker
from sentinel_board.compose.project import DATA_PORT, MASTER_NAME, Project
from sentinel_board.drills.options import EnduranceOptions, Options
from sentinel_board.drills.targets import ComposeTarget, LocalTarget, Target, compose_target
from sentinel_board.keys import Keys
from sentinel_board.topology import Topology, TopologySpec, netns, probe, render, servers
from sentinel_board.topology.deploy import COMPOSE_SENTINEL_HOSTS
from sentinel_board.topology.layout import TopologyError
from sentinel_board.topology.ports import free_ports

# Readings of a figure that a passing connection may raise (open files, connected clients),
# the least of them kept: a leak stays in every reading, a connection on its way out does not.
READINGS = 3

# The SHA1 of READ[start:stop], computed where the list is: nodes compared without copying it.
DIGEST = (
    "return redis.sha1hex(table.concat(redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2]), '\\n'))"
)


@dataclass(frozen=True)
class RedisFigures:
    data_clients: dict[str, int]  # connected_clients of each data node
    sentinel_clients: dict[str, int]  # ... of each sentinel
    used_memory: int  # the master's
    keys: int  # the master's live keys (SCAN passes over expired ones; DBSIZE counts them)


class EnduranceTarget(Target, Protocol):
    workers: int  # the board's worker processes
    keys: Keys  # the board's key names, with its prefix

    def partition_unavailable(self) -> str | None:
        """None when `cut` and `heal` work here, else why not."""

    def unsettled(self) -> str | None:
        """None once everything runs, one master has every replica in sync and every sentinel
        agrees, flagging nothing down; else what is not so yet."""

    def list_length(self, node: str, key: str) -> int | None: ...

    def digest(self, node: str, key: str, start: int, stop: int) -> str | None:
        """SHA1 of the list's items start..stop-1 on that node."""

    def read_lists(self, master: str, read_from: int) -> tuple[list[str], list[str]] | None:
        """On `master`, atomically: READ from `read_from` on, and the whole of UNREAD."""

    def redis_figures(self) -> RedisFigures: ...


class _Recovery(ABC):
    """What both targets share: recovery judged, lists digested and read, Redis's figures,
    from a few answers that each asks its own way (`_ask`, `_down`, `_upstream`)."""

    data_nodes: list[str]
    sentinel_nodes: list[str]
    master_set: str  # Sentinel's name for the master
    keys: Keys

    if TYPE_CHECKING:

        def role(self, node: str) -> str | None: ...

    @abstractmethod
    def _ask(self, node: str, *args: str | int) -> Any:
        """The node's answer, None when it gives none."""

    @abstractmethod
    def _down(self) -> list[str]:
        """The nodes not running."""

    @abstractmethod
    def _upstream(self, node: str) -> tuple[str, str, str | int]:
        """How a replica's INFO and a sentinel's view name `node` as master: the INFO field,
        the SENTINEL MASTER field, and the value both hold."""

    @abstractmethod
    def _client(self, node: str) -> redis.Redis:
        """A client of the data node."""

    def unsettled(self) -> str | None:
        if down := self._down():
            return f"{', '.join(down)} not running"
        masters = [n for n in self.data_nodes if self.role(n) == "master"]
        if len(masters) != 1:
            return "no single node says it is master"
        master = masters[0]
        link_field, view_field, value = self._upstream(master)
        for node in self.data_nodes:
            if node != master:
                link = self._ask(node, "INFO", "replication") or {}
                if link.get("master_link_status") != "up" or link.get(link_field) != value:
                    return f"{node} is not in sync with {master}"
        expected = len(self.data_nodes) + len(self.sentinel_nodes) - 2
        for node in self.sentinel_nodes:
            seen = probe.fields(self._ask(node, "SENTINEL", "MASTER", self.master_set))
            if seen.get(view_field) != str(value) or seen.get("flags") != "master":
                return f"{node} sees master {seen.get(view_field)} ({seen.get('flags')})"
            others = [
                probe.fields(entry).get("flags", "") for kind in ("REPLICAS", "SENTINELS")
                for entry in self._ask(node, "SENTINEL", kind, self.master_set) or []
            ]  # fmt: skip
            if len(others) != expected or any("down" in f or "disconn" in f for f in others):
                return f"{node} does not see every other node up"
        return None

    def list_length(self, node: str, key: str) -> int | None:
        length = self._ask(node, "LLEN", key)
        return None if length is None else int(length)

    def digest(self, node: str, key: str, start: int, stop: int) -> str | None:
        reply = self._ask(node, "EVAL", DIGEST, 1, key, start, stop - 1)
        return None if reply is None else str(reply)

    def read_lists(self, master: str, read_from: int) -> tuple[list[str], list[str]] | None:
        with self._client(master) as client:
            pipe = client.pipeline(transaction=True)
            pipe.lrange(self.keys.read, read_from, -1)
            pipe.lrange(self.keys.unread, 0, -1)
            read, unread = pipe.execute()
        return read, unread

    def redis_figures(self) -> RedisFigures:
        def clients(nodes: list[str]) -> dict[str, int]:
            """Each node's connected clients, the least of its readings."""
            found: dict[str, int] = {}
            for node in nodes:
                for _ in range(READINGS):
                    count = (self._ask(node, "INFO", "clients") or {}).get("connected_clients")
                    if count is not None:
                        found[node] = min(int(count), found.get(node, int(count)))
            return found

        used = keys = 0
        if masters := [n for n in self.data_nodes if self.role(n) == "master"]:
            used = int((self._ask(masters[0], "INFO", "memory") or {}).get("used_memory", 0))
            # Redis reclaims expired keys lazily: while most keys live a day, the few that
            # expired may stay counted by DBSIZE for long. A SCAN skips (and reclaims) them.
            with self._client(masters[0]) as client:
                keys = sum(1 for _ in client.scan_iter(count=1000))
        return RedisFigures(clients(self.data_nodes), clients(self.sentinel_nodes), used, keys)


class LocalEnduranceTarget(_Recovery, LocalTarget):
    def __init__(self, topology: Topology) -> None:
        super().__init__(topology)
        self.workers = topology.spec.workers
        self.keys = Keys(topology.spec.app_key_prefix)
        self.sentinel_nodes = [node.name for node in topology.sentinel_nodes]
        self.master_set = topology.spec.master_name

    def partition_unavailable(self) -> str | None:
        if self.topology.spec.netns_subnet is None:
            return netns.available() or "the topology does not run in network namespaces"
        return None

    def _ask(self, node: str, *args: str | int) -> Any:
        return self.topology.ask(self.topology.node(node), *args, timeout=10)

    def _down(self) -> list[str]:
        return [n.name for n in self.topology.nodes if self.topology.pid(n) is None]

    def _upstream(self, node: str) -> tuple[str, str, str | int]:
        return "master_port", "port", self.topology.node(node).port

    def _client(self, node: str) -> redis.Redis:
        found = self.topology.node(node)
        password = self.topology.password(found)
        return probe.client(found.host, found.port, 10, password, self.topology.tls_ca)


class ComposeEnduranceTarget(_Recovery, ComposeTarget):
    """A compose project: its containers, and the board in the app container."""

    def __init__(self, project: Project) -> None:
        super().__init__(project)
        settings = render.read_env_file(project.out / "app.env")
        self.keys = Keys(settings.get("SENTINEL_BOARD_KEY_PREFIX", ""))
        self.sentinel_nodes = list(COMPOSE_SENTINEL_HOSTS)
        self.master_set = MASTER_NAME
        self.workers = self._board_processes()

    def _board_processes(self) -> int:
        """The board's workers in the app container: uvicorn's children (spawned by
        multiprocessing), or the one process serving when it has none."""
        listed = docker("top", self.project.container("app"), "-o", "pid,args").stdout.splitlines()
        return sum("spawn_main" in line for line in listed[1:]) or 1

    def partition_unavailable(self) -> str | None:
        return None  # docker network disconnect

    def _ask(self, node: str, *args: str | int) -> Any:
        return self.project.ask(node, *args, timeout=10)

    def _down(self) -> list[str]:
        return [s for s in [*self.data_nodes, *self.sentinel_nodes, "app"]
                if not self.project.running(s)]  # fmt: skip

    def _upstream(self, node: str) -> tuple[str, str, str | int]:
        return "master_host", "ip", node  # Sentinel names nodes by their service names

    def _client(self, node: str) -> redis.Redis:
        address = self.project.address(node)
        if address is None:
            raise TopologyError(f"{node} has no address")
        return probe.client(address, DATA_PORT, 10, self.project.credentials.admin)


@asynccontextmanager
async def local_target(
    run_dir: Path, options: EnduranceOptions
) -> AsyncIterator[LocalEnduranceTarget]:
    """A topology of its own on free ports, the board in front with the options' workers; in
    network namespaces when this machine allows (so that partitions can be drilled too)."""
    *ports, app_port = free_ports(7)
    spec = TopologySpec(
        run_dir=run_dir,
        data_ports=tuple(ports[:3]),
        sentinel_ports=tuple(ports[3:]),
        app_port=app_port,
        down_after_ms=options.down_after_ms,
        workers=options.workers,
        extra_env={
            "SENTINEL_BOARD_FAILOVER_DEADLINE": str(options.failover_deadline),
            "SENTINEL_BOARD_READ_FROM": options.read_from,
        },
        netns_subnet=netns.free_subnet() if netns.available() is None else None,
        server=servers.find(options.server).path,
    )
    starting = asyncio.ensure_future(asyncio.to_thread(Topology.up, spec))
    try:
        topology = await asyncio.shield(starting)
    except asyncio.CancelledError:
        # A thread cannot be stopped: once it has started everything, stop it all.
        with contextlib.suppress(Exception):
            await asyncio.to_thread((await starting).down)
        raise
    try:
        yield LocalEnduranceTarget(topology)
    finally:
        await asyncio.to_thread(topology.down)


@contextmanager
def compose_endurance_target(
    root: Path,
    options: EnduranceOptions,
    server: str | None,
    say: Callable[[str], None],
    fresh: bool,
) -> Iterator[tuple[ComposeEnduranceTarget, EnduranceOptions]]:
    """The running compose project with its own settings (left as found), or one of the
    drill's own with `options` on `server` (targets.compose_target); the options as they
    apply there."""
    asked = Options(options.down_after_ms, options.failover_deadline, options.read_from)
    with compose_target(root, asked, server, say, fresh) as (target, found):
        yield (
            ComposeEnduranceTarget(target.project),
            replace(
                options,
                down_after_ms=found.down_after_ms,
                failover_deadline=found.failover_deadline,
                read_from=found.read_from,
            ),
        )

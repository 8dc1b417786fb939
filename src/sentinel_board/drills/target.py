"""What the endurance drill breaks and looks at, behind one interface.

`LocalTarget` is the launcher's topology on this machine: processes signalled by pid,
partitions by network namespace. Another target (Docker Compose: containers killed, paused
and disconnected) implements the same `Target` and the drill runs unchanged.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sentinel_board.ha import SentinelEvent, sentinel_events
from sentinel_board.keys import Keys
from sentinel_board.topology import Node, Topology, TopologyError, TopologySpec, netns, probe
from sentinel_board.topology.ports import free_ports

T = TypeVar("T")


class FaultError(Exception):
    """A fault could not be injected or undone: no such node, it did not stop, ..."""


@dataclass(frozen=True)
class RedisFigures:
    data_clients: dict[str, int]  # connected_clients of each data node
    sentinel_clients: dict[str, int]  # ... of each sentinel
    used_memory: int  # the master's
    keys: int  # the master's DBSIZE


# The SHA1 of READ[start:stop], computed where the list is: nodes compared without copying it.
DIGEST = (
    "return redis.sha1hex(table.concat(redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2]), '\\n'))"
)


class Target(Protocol):
    app_url: str
    workers: int  # the board's worker processes
    data_nodes: list[str]
    sentinels: list[str]

    def partition_unavailable(self) -> str | None:
        """None when `cut` and `heal` work here, else why not."""

    def events(self) -> AsyncIterator[SentinelEvent]:
        """Sentinel's events, each once, as long as it is iterated."""

    async def kill(self, role: str, sig: signal.Signals = signal.SIGKILL) -> str:
        """Signal whichever node has `role` now (master, replica, sentinel); its name.
        Faults raise FaultError when they cannot be done."""

    async def start(self, name: str) -> None:
        """Bring a killed node back, with its own config."""

    async def cut(self, name: str) -> None:
        """Cut a node off the network, keeping it running."""

    async def heal(self, name: str) -> None: ...

    async def master(self) -> str | None:
        """The one data node whose ROLE says master, if exactly one does."""

    async def unsettled(self) -> str | None:
        """None once everything runs, one master has every replica in sync and every sentinel
        agrees, flagging nothing down; else what is not so yet."""

    async def list_length(self, name: str, key: str) -> int | None: ...

    async def digest(self, name: str, key: str, start: int, stop: int) -> str | None:
        """SHA1 of the list's items start..stop-1 on that node."""

    async def read_lists(self, read_from: int) -> tuple[list[str], list[str]] | None:
        """On the master, atomically: READ from `read_from` on, and the whole of UNREAD."""

    async def redis_figures(self) -> RedisFigures: ...


class LocalTarget:
    def __init__(self, topology: Topology) -> None:
        assert topology.spec.app_url is not None
        self.topology = topology
        self.app_url = topology.spec.app_url
        self.workers = topology.spec.workers
        self.data_nodes = [node.name for node in topology.data_nodes]
        self.sentinels = [node.name for node in topology.sentinel_nodes]
        self.keys = Keys(topology.spec.app_key_prefix)

    def partition_unavailable(self) -> str | None:
        if self.topology.spec.netns_subnet is None:
            return netns.available() or "the topology does not run in network namespaces"
        return None

    def events(self) -> AsyncIterator[SentinelEvent]:
        return sentinel_events(self.topology.sentinel_addresses, **self.topology.sentinel_options)

    async def kill(self, role: str, sig: signal.Signals = signal.SIGKILL) -> str:
        node = await _fault(self.topology.kill, role, 1, sig)
        return node.name

    async def start(self, name: str) -> None:
        await _fault(self.topology.start, name)

    async def cut(self, name: str) -> None:
        await _fault(lambda: netns.cut(self.topology.node(name)))

    async def heal(self, name: str) -> None:
        await _fault(lambda: netns.heal(self.topology.node(name)))

    async def master(self) -> str | None:
        return await asyncio.to_thread(self._master)

    def _master(self) -> str | None:
        topology = self.topology
        masters = [n.name for n in topology.data_nodes if topology.role(n) == "master"]
        return masters[0] if len(masters) == 1 else None

    async def unsettled(self) -> str | None:
        return await asyncio.to_thread(self._unsettled)

    def _unsettled(self) -> str | None:
        topology = self.topology
        if down := [n.name for n in topology.nodes if topology.pid(n) is None]:
            return f"{', '.join(down)} not running"
        master = self._master()
        if master is None:
            return "no single node says it is master"
        port = topology.node(master).port
        for node in topology.data_nodes:
            if node.name != master:
                link = topology.info(node, "replication")
                if link.get("master_link_status") != "up" or link.get("master_port") != port:
                    return f"{node.name} is not in sync with {master}"
        name = topology.spec.master_name
        for node in topology.sentinel_nodes:
            seen = probe.fields(topology.ask(node, "SENTINEL", "MASTER", name))
            if seen.get("port") != str(port) or seen.get("flags") != "master":
                return f"{node.name} sees master {seen.get('port')} ({seen.get('flags')})"
            others = [
                probe.fields(entry) for kind in ("REPLICAS", "SENTINELS")
                for entry in topology.ask(node, "SENTINEL", kind, name) or []
            ]  # fmt: skip
            expected = len(topology.data_nodes) + len(topology.sentinel_nodes) - 2
            if len(others) != expected or any(
                "down" in o.get("flags", "") or "disconnected" in o.get("flags", "") for o in others
            ):
                return f"{node.name} does not see every other node up"
        return None

    async def list_length(self, name: str, key: str) -> int | None:
        length = await asyncio.to_thread(self._ask, name, "LLEN", key)
        return None if length is None else int(length)

    async def digest(self, name: str, key: str, start: int, stop: int) -> str | None:
        reply = await asyncio.to_thread(self._ask, name, "EVAL", DIGEST, 1, key, start, stop - 1)
        return None if reply is None else str(reply)

    def _ask(self, name: str, *args: str | int) -> Any:
        return self.topology.ask(self.topology.node(name), *args, timeout=10)

    async def read_lists(self, read_from: int) -> tuple[list[str], list[str]] | None:
        return await asyncio.to_thread(self._read_lists, read_from)

    def _read_lists(self, read_from: int) -> tuple[list[str], list[str]] | None:
        master = self._master()
        if master is None:
            return None
        node = self.topology.node(master)
        password = self.topology.password(node)
        with probe.client(node.host, node.port, 10, password, self.topology.tls_ca) as client:
            pipe = client.pipeline(transaction=True)
            pipe.lrange(self.keys.read, read_from, -1)
            pipe.lrange(self.keys.unread, 0, -1)
            read, unread = pipe.execute()
        return read, unread

    async def redis_figures(self) -> RedisFigures:
        return await asyncio.to_thread(self._redis_figures)

    def _redis_figures(self) -> RedisFigures:
        topology = self.topology

        def clients(nodes: list[Node]) -> dict[str, int]:
            found = {n.name: topology.info(n, "clients").get("connected_clients") for n in nodes}
            return {name: int(count) for name, count in found.items() if count is not None}

        used = keys = 0
        if (master := self._master()) is not None:
            node = topology.node(master)
            used = int(topology.info(node, "memory").get("used_memory", 0))
            keys = int(topology.ask(node, "DBSIZE") or 0)
        return RedisFigures(
            clients(topology.data_nodes), clients(topology.sentinel_nodes), used, keys
        )


async def _fault(act: Callable[..., T], *args: Any) -> T:
    try:
        return await asyncio.to_thread(act, *args)
    except TopologyError as error:
        raise FaultError(str(error)) from None


@asynccontextmanager
async def local_target(
    run_dir: Path,
    *,
    down_after_ms: int,
    failover_deadline: float,
    workers: int,
    read_from: str = "master",
) -> AsyncIterator[LocalTarget]:
    """A topology of its own on free ports, the board in front with `workers` workers; in
    network namespaces when this machine allows (so that partitions can be drilled too)."""
    *ports, app_port = free_ports(7)
    spec = TopologySpec(
        run_dir=run_dir,
        data_ports=tuple(ports[:3]),
        sentinel_ports=tuple(ports[3:]),
        app_port=app_port,
        down_after_ms=down_after_ms,
        workers=workers,
        extra_env={
            "SENTINEL_BOARD_FAILOVER_DEADLINE": str(failover_deadline),
            "SENTINEL_BOARD_READ_FROM": read_from,
        },
        netns_subnet=netns.free_subnet() if netns.available() is None else None,
    )
    topology = await asyncio.to_thread(Topology.up, spec)
    try:
        yield LocalTarget(topology)
    finally:
        await asyncio.to_thread(topology.down)

"""What the endurance drill needs of a target beyond what a scenario does (drills/targets.py).

To know when the deployment has recovered, to compare and read the lists without copying
them whole each time, and to see what Redis holds. `LocalEnduranceTarget` is the local
topology's; a compose target (`ComposeTarget`) would implement the same few methods, and the
drill would run on it unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sentinel_board.drills.options import EnduranceOptions
from sentinel_board.drills.targets import LocalTarget, Target
from sentinel_board.keys import Keys
from sentinel_board.topology import Node, Topology, TopologySpec, netns, probe, servers
from sentinel_board.topology.ports import free_ports

# The SHA1 of READ[start:stop], computed where the list is: nodes compared without copying it.
DIGEST = (
    "return redis.sha1hex(table.concat(redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2]), '\\n'))"
)


@dataclass(frozen=True)
class RedisFigures:
    data_clients: dict[str, int]  # connected_clients of each data node
    sentinel_clients: dict[str, int]  # ... of each sentinel
    used_memory: int  # the master's
    keys: int  # the master's DBSIZE


class EnduranceTarget(Target, Protocol):
    workers: int  # the board's worker processes

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


class LocalEnduranceTarget(LocalTarget):
    def __init__(self, topology: Topology) -> None:
        super().__init__(topology)
        self.workers = topology.spec.workers
        self.keys = Keys(topology.spec.app_key_prefix)

    def partition_unavailable(self) -> str | None:
        if self.topology.spec.netns_subnet is None:
            return netns.available() or "the topology does not run in network namespaces"
        return None

    def unsettled(self) -> str | None:
        topology = self.topology
        if down := [n.name for n in topology.nodes if topology.pid(n) is None]:
            return f"{', '.join(down)} not running"
        masters = [n for n in topology.data_nodes if topology.role(n) == "master"]
        if len(masters) != 1:
            return "no single node says it is master"
        master = masters[0]
        for node in topology.data_nodes:
            if node is not master:
                link = topology.info(node, "replication")
                if link.get("master_link_status") != "up" or link.get("master_port") != master.port:
                    return f"{node.name} is not in sync with {master.name}"
        name = topology.spec.master_name
        expected = len(topology.data_nodes) + len(topology.sentinel_nodes) - 2
        for node in topology.sentinel_nodes:
            seen = probe.fields(topology.ask(node, "SENTINEL", "MASTER", name))
            if seen.get("port") != str(master.port) or seen.get("flags") != "master":
                return f"{node.name} sees master {seen.get('port')} ({seen.get('flags')})"
            others = [
                probe.fields(entry).get("flags", "") for kind in ("REPLICAS", "SENTINELS")
                for entry in topology.ask(node, "SENTINEL", kind, name) or []
            ]  # fmt: skip
            if len(others) != expected or any("down" in f or "disconn" in f for f in others):
                return f"{node.name} does not see every other node up"
        return None

    def list_length(self, node: str, key: str) -> int | None:
        length = self._ask(node, "LLEN", key)
        return None if length is None else int(length)

    def digest(self, node: str, key: str, start: int, stop: int) -> str | None:
        reply = self._ask(node, "EVAL", DIGEST, 1, key, start, stop - 1)
        return None if reply is None else str(reply)

    def _ask(self, node: str, *args: str | int) -> Any:
        return self.topology.ask(self.topology.node(node), *args, timeout=10)

    def read_lists(self, master: str, read_from: int) -> tuple[list[str], list[str]] | None:
        node = self.topology.node(master)
        password = self.topology.password(node)
        with probe.client(node.host, node.port, 10, password, self.topology.tls_ca) as client:
            pipe = client.pipeline(transaction=True)
            pipe.lrange(self.keys.read, read_from, -1)
            pipe.lrange(self.keys.unread, 0, -1)
            read, unread = pipe.execute()
        return read, unread

    def redis_figures(self) -> RedisFigures:
        topology = self.topology

        def clients(nodes: list[Node]) -> dict[str, int]:
            found = {n.name: topology.info(n, "clients").get("connected_clients") for n in nodes}
            return {name: int(count) for name, count in found.items() if count is not None}

        used = keys = 0
        if (master := topology.master_by_role()) is not None:
            node = topology.node(master)
            used = int(topology.info(node, "memory").get("used_memory", 0))
            keys = int(topology.ask(node, "DBSIZE") or 0)
        return RedisFigures(
            clients(topology.data_nodes), clients(topology.sentinel_nodes), used, keys
        )


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
    topology = await asyncio.to_thread(Topology.up, spec)
    try:
        yield LocalEnduranceTarget(topology)
    finally:
        await asyncio.to_thread(topology.down)

"""Reads that may be stale, on the replicas (read_from=replica_preferred)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from dataclasses import replace
from typing import cast

from redis.asyncio import Redis

from sentinel_board.ha import Address, HAConfig, RedisHA
from sentinel_board.ha.discovery import Discovery
from sentinel_board.ha.link import Link
from sentinel_board.ha.replicas import ReplicaPool
from sentinel_board.topology import Topology
from tests.helpers import wait_until_async


async def where(client: Redis) -> str:
    reply = await client.execute_command("ROLE")
    return str(reply[0].decode())


async def test_replica_preferred_reads_come_from_a_replica(config: HAConfig) -> None:
    async with RedisHA(replace(config, read_from="replica_preferred")) as ha:
        assert await ha.read(where, stale_ok=True) == "slave"
        assert await ha.read(where) == "master", "what must be fresh still reads the master"
        batched = await ha.call("ROLE", stale_ok=True)
        assert batched[0] == b"slave", "a batched command goes where the read goes"
        (role,) = await ha.transaction(("ROLE",), stale_ok=True)
        assert role[0] == b"slave", "and so does a transaction"
    async with RedisHA(config) as master_only:
        assert await master_only.read(where, stale_ok=True) == "master"


def _open_clients(addresses: set[Address]) -> dict[Address, int]:
    """Redis clients alive in this process with a connection open to one of `addresses`."""
    found: dict[Address, int] = {}
    for thing in gc.get_objects():
        if isinstance(thing, Redis):
            pool = thing.connection_pool
            address = (pool.connection_kwargs.get("host"), pool.connection_kwargs.get("port"))
            connections = [*pool._available_connections, *pool._in_use_connections]
            if address in addresses and any(c.is_connected for c in connections):
                found[address] = found.get(address, 0) + 1
    return found


async def test_concurrent_replica_failures_leave_one_open_client_per_replica(
    topology: Topology, config: HAConfig
) -> None:
    """Twenty reads in flight on a replica that drops its clients (as one does when Sentinel
    re-points it) all fail at once, and each moves to the other replica. One failure used to
    close the shared client under the others, and each made a client of its own, never
    closed."""
    master = topology.master_name()
    replicas = [n for n in topology.data_nodes if n.name != master]
    addresses = {(n.host, n.port) for n in replicas}
    ha = RedisHA(replace(config, read_from="replica_preferred"))
    tried: set[asyncio.Task[object] | None] = set()

    async def role(client: Redis) -> str:
        if asyncio.current_task() not in tried:  # the first attempt waits: a read in flight
            tried.add(asyncio.current_task())
            await client.execute_command("XREAD", "BLOCK", 20000, "STREAMS", "nothing", "$")
        return await where(client)

    def blocked() -> int:
        return sum(int(topology.info(n, "clients").get("blocked_clients", 0)) for n in replicas)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            assert await ha.call("ROLE", stale_ok=True) is not None  # a replica is chosen
            reads = [asyncio.create_task(ha.read(role, stale_ok=True)) for _ in range(20)]
            await wait_until_async(lambda: blocked() >= 20, timeout=10)
            for node in replicas:
                topology.ask(node, "CLIENT", "KILL", "TYPE", "normal")
            assert set(await asyncio.gather(*reads)) <= {"slave", "master"}
            gc.collect()
            open_now = _open_clients(addresses)
            assert open_now and all(count == 1 for count in open_now.values()), open_now
        finally:
            await ha.aclose()
        gc.collect()
    assert _open_clients(addresses) == {}, "closed with the client"
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, "clients dropped without being closed"


class _Closing:
    """A link whose close takes a loop turn, as a real one's does (pure list logic)."""

    def __init__(self, name: str) -> None:
        self.address: Address = (name, 6379)
        self.closed = 0

    async def aclose(self) -> None:
        await asyncio.sleep(0)  # one loop turn: another release runs meanwhile
        self.closed += 1


class _NoDiscovery:
    async def replicas(self) -> list[Address] | None:
        return None


async def test_concurrent_releases_close_each_retired_link_once() -> None:
    """Two requests leaving their links at once, with two retired links no request is in:
    each closed exactly once. Each release copied the list, then removed link by link
    around the awaits of the closes: the second `remove` raised ValueError (list.remove(x):
    x not in list) out of the request's `finally`, an HTTP 500."""
    pool = ReplicaPool(
        cast(Discovery, _NoDiscovery()),
        lambda address: cast(Redis, None),
        lambda a, c: cast(Link, None),
    )
    retired = [_Closing("old-1"), _Closing("old-2")]
    in_use = [_Closing("up-1"), _Closing("up-2")]
    pool._retired = [cast(Link, link) for link in retired]
    pool._users = {cast(Link, link): 1 for link in in_use}
    await asyncio.gather(*(pool._release(cast(Link, link)) for link in in_use))
    assert [link.closed for link in retired] == [1, 1]
    assert pool._retired == [] and pool._users == {}

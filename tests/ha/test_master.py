"""Following the master: through a demotion under the client, or at +switch-master."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

import pytest
from redis.asyncio import Redis

from sentinel_board.ha import Address, HAConfig, RedisHA, Script
from sentinel_board.ha.discovery import Discovery
from sentinel_board.ha.link import Link
from sentinel_board.ha.master import MasterFollower
from sentinel_board.ha.stats import HAStats
from sentinel_board.topology import Topology
from tests.fake_sentinel import FakeSentinel, fake_sentinel
from tests.ha.conftest import config_for, role_of
from tests.helpers import wait_until_async

PUSH = Script("return redis.call('RPUSH', KEYS[1], ARGV[1])")


@asynccontextmanager
async def before_a_swap(
    pair: tuple[Address, Address],
) -> AsyncIterator[tuple[RedisHA, FakeSentinel]]:
    """A client of `pair`'s master, told where it is by a sentinel of the test's own."""
    async with fake_sentinel(pair[0]) as sentinel:
        ha = RedisHA(HAConfig([("127.0.0.1", sentinel.port)], failover_deadline=3))
        try:
            yield ha, sentinel
        finally:
            await ha.aclose()


async def swap(pair: tuple[Address, Address], sentinel: FakeSentinel) -> None:
    """The replica becomes master and the master its replica, as Sentinel would do it."""
    first, second = pair
    async with (
        Redis(host=second[0], port=second[1]) as new,
        Redis(host=first[0], port=first[1]) as old,
    ):
        await new.execute_command("REPLICAOF", "NO", "ONE")
        await old.execute_command("REPLICAOF", *map(str, second))
    sentinel.master = second


async def test_a_demoted_master_is_dropped_on_readonly(pair: tuple[Address, Address]) -> None:
    """A master turned replica under the client (no sentinel told it yet) answers READONLY."""
    async with before_a_swap(pair) as (ha, sentinel):
        assert await ha.write(PUSH, ["ro"], ["before"]) == 1
        await swap(pair, sentinel)
        assert await ha.write(PUSH, ["ro"], ["after"]) == 2
        assert ha.master_address == pair[1]
        assert ha.stats.failovers_followed == 1
        assert ha.stats.retries >= 1


async def test_a_switch_releases_the_old_master_and_all_tied_to_it(
    pair: tuple[Address, Address],
) -> None:
    """Its client and its batchers: nothing of the old generation stays referenced. (Each
    switch kept the old client and its two batchers alive: 68 kB over 6 failovers.)"""
    async with before_a_swap(pair) as (ha, sentinel):
        await ha.write(PUSH, ["gen"], ["before"])  # the write batcher
        assert await ha.call("LLEN", "gen") == 1  # the read batcher
        current = ha.current_master
        assert current is not None
        old = weakref.ref(current[1])
        pool = current[1].connection_pool
        del current
        await swap(pair, sentinel)
        await ha.write(PUSH, ["gen"], ["after"])
        assert ha.master_address == pair[1]
        gc.collect()
        assert old() is None, "the old master's client is still referenced"
        connections = [*pool._available_connections, *pool._in_use_connections]
        assert not any(c.is_connected for c in connections), "and it is closed"


@pytest.mark.failover
async def test_switch_master_is_followed_without_waiting_for_an_error(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    config = config_for(topology)
    async with RedisHA(config) as ha:
        assert await ha.call("PING")
        first = ("127.0.0.1", topology.node("redis-1").port)
        assert ha.master_address == first
        reply = topology.ask(topology.sentinel_nodes[0], "SENTINEL", "FAILOVER", "mymaster")
        assert reply == "OK", reply
        # no request is made: only the event can move the client
        await wait_until_async(lambda: ha.master_address != first, timeout=15)
        assert ha.stats.retries == 0
        assert ha.stats.failovers_followed == 1
        assert await role_of(config, ha.master_address) == "master"


class _SlowToClose:
    """A link whose close lasts until the test says (pure logic: who waits for whom)."""

    def __init__(self, address: Address, *, quick: bool = False) -> None:
        self.address = address
        self.client = cast(Redis, None)
        self.closing = asyncio.Event()
        self.may_close = asyncio.Event()
        if quick:
            self.may_close.set()
        self.closed = False

    async def aclose(self) -> None:
        self.closing.set()
        await self.may_close.wait()
        self.closed = True


class _Confirming:
    async def confirm(self, address: Address, current: object) -> tuple[object, str]:
        return object(), ""


async def test_the_old_link_is_closed_outside_the_lock_and_before_aclose_returns() -> None:
    """Closing a hung master's link can take up to connect_timeout: the switch used to
    await it under the lock, and every request waiting for the new master waited too."""
    follower = MasterFollower(
        HAConfig([("127.0.0.1", 26379)]),
        cast(Discovery, _Confirming()),
        HAStats(),
        lambda address, client: cast(Link, _SlowToClose(address, quick=True)),
    )
    old = _SlowToClose(("127.0.0.1", 1))
    follower.link = cast(Link, old)
    changed = asyncio.create_task(follower.changed(30))
    await asyncio.sleep(0)  # one loop turn: a request now waits for the master to change
    await asyncio.wait_for(follower.adopt(("127.0.0.1", 2), "test"), timeout=5)
    await asyncio.wait_for(changed, timeout=5)  # the requests that wait are woken at once
    assert follower.link is not None and follower.link.address == ("127.0.0.1", 2)
    await asyncio.wait_for(old.closing.wait(), timeout=5)
    closing = asyncio.create_task(follower.aclose())
    await asyncio.sleep(0)  # one loop turn: aclose is now waiting for the old link
    assert not closing.done() and not old.closed, "aclose waits for the old link's close"
    old.may_close.set()
    await asyncio.wait_for(closing, timeout=5)
    assert old.closed

"""Sentinel as configuration provider: asked in turn, its answer verified with ROLE."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from sentinel_board.ha import (
    Address,
    HAConfig,
    NoFailoverPossible,
    RedisHA,
    Script,
    Unavailable,
)
from sentinel_board.topology import Topology, faults
from sentinel_board.topology.ports import free_port
from tests.fake_sentinel import fake_sentinel
from tests.ha.conftest import config_for, role_of

PUT = Script("return redis.call('SET', KEYS[1], ARGV[1])")


async def ping(client: Redis) -> bool:
    return bool(await client.ping())


async def test_finds_the_master_the_sentinels_name(config: HAConfig) -> None:
    async with RedisHA(config) as ha:
        assert await ha.read(ping)
        assert await role_of(config, ha.master_address) == "master"


async def test_a_dead_sentinel_is_skipped_and_the_one_that_answers_comes_first(
    config: HAConfig,
) -> None:
    dead = ("127.0.0.1", free_port())
    async with RedisHA(replace(config, sentinels=[dead, *config.sentinels])) as ha:
        assert await ha.read(ping)
        order = [address for address, _ in ha.sentinel_clients]
        assert order == [config.sentinels[0], dead, *config.sentinels[1:]]


async def test_a_sentinel_naming_a_replica_is_not_trusted(
    config: HAConfig, replica_address: Address
) -> None:
    async with fake_sentinel(replica_address) as stale:
        sentinels = [("127.0.0.1", stale.port), *config.sentinels]
        async with RedisHA(replace(config, sentinels=sentinels)) as ha:
            assert await ha.read(ping)
            assert stale.asked == 1
            assert ha.master_address not in (None, replica_address)
            assert await role_of(config, ha.master_address) == "master"


async def test_no_master_anywhere_is_unavailable_with_every_reason(config: HAConfig) -> None:
    async with fake_sentinel(None) as ignorant, fake_sentinel(None) as also:
        dead = ("127.0.0.1", free_port())
        sentinels = [("127.0.0.1", ignorant.port), ("127.0.0.1", also.port), dead]
        ha = RedisHA(replace(config, sentinels=sentinels, failover_deadline=0.3))
        try:
            with pytest.raises(
                Unavailable, match=r"no master served the request within 0\.3 s"
            ) as caught:
                await ha.read(ping)
        finally:
            await ha.aclose()
    reason = caught.value.reason
    assert f"sentinel 127.0.0.1:{ignorant.port} does not know 'mymaster'" in reason
    assert f"sentinel 127.0.0.1:{dead[1]}: ConnectionError" in reason
    assert ha.stats.unavailable == 1
    assert ignorant.asked >= 2, "two of three sentinels answer: asked again until the deadline"


async def test_without_a_majority_of_sentinels_it_fails_at_once(config: HAConfig) -> None:
    async with fake_sentinel(None) as ignorant:
        dead = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]
        sentinels = [("127.0.0.1", ignorant.port), *dead]
        ha = RedisHA(replace(config, sentinels=sentinels, failover_deadline=30))
        try:
            with pytest.raises(NoFailoverPossible, match="only 1 of 3 sentinels answer") as caught:
                await ha.read(ping)
        finally:
            await ha.aclose()
    assert ha.stats.retries == 0, "no failover can come, so none is waited for"
    assert caught.value.retry_after >= 1


async def test_a_sentinel_naming_an_unreachable_master_is_unavailable(config: HAConfig) -> None:
    gone = ("127.0.0.1", free_port())
    async with fake_sentinel(gone) as wrong:
        ha = RedisHA(replace(config, sentinels=[("127.0.0.1", wrong.port)], failover_deadline=0.3))
        try:
            with pytest.raises(Unavailable, match=f"master 127.0.0.1:{gone[1]}: ConnectionError"):
                await ha.read(ping)
        finally:
            await ha.aclose()


@pytest.mark.failover
async def test_a_hung_master_named_by_every_sentinel_is_unavailable_at_the_deadline(
    make_topology: Callable[..., Topology],
) -> None:
    """A SIGSTOPped master accepts connections and never answers; the sentinels, not yet
    failing over (down-after is a minute), all name it. Its ROLE check used the command's
    timeout (2 s), once per sentinel (6 s), and the deadline was checked only after it: a
    request with a deadline of 2 s answered after 6. Now it is checked once, briefly, and the
    rediscovery ends at the deadline."""
    topology = make_topology(down_after_ms=60_000)
    hung = faults.kill(topology, "master", sig=signal.SIGSTOP)
    deadline = 2.0
    ha = RedisHA(config_for(topology, failover_deadline=deadline))
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"no master served the request within 2 s") as caught:
            await ha.read(ping)
        elapsed = time.monotonic() - started
    finally:
        await ha.aclose()
    # Generous for a loaded machine; the old code took three checks of 2 s each.
    assert elapsed < deadline + 2.5, f"answered after {elapsed:.1f} s"
    reason = caught.value.reason
    assert f"master {hung.host}:{hung.port}: no answer to ROLE within" in reason, reason
    assert ha.master_address is None, "the hung master was never taken for the master"


async def test_a_write_s_deadline_counts_from_since(config: HAConfig) -> None:
    """A caller that waited before its write (the store's group behind another) gives when
    its wait began: with no master anywhere, the write is refused once that much of the
    deadline is gone, not a whole deadline after the call."""
    async with fake_sentinel(None) as ignorant:
        ha = RedisHA(
            replace(config, sentinels=[("127.0.0.1", ignorant.port)], failover_deadline=30)
        )
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(Unavailable, match=r"within 30 s"):
                await ha.write(PUT, ["k"], ["v"], since=started - 29.8)
            assert loop.time() - started < 10, "a third of the deadline, at the very most"
        finally:
            await ha.aclose()

"""RedisHA's interface: acknowledged writes, batched commands, and what it knows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from sentinel_board.ha import HAConfig, RedisHA, Script, Unavailable
from sentinel_board.topology import Topology
from tests.ha.conftest import config_for, node

# Appends ARGV[2] to KEYS[1] once per id ARGV[1]: a retried write must not store twice.
ONCE = Script("""
if redis.call('SET', KEYS[2], 1, 'NX', 'EX', 60) then
  return redis.call('RPUSH', KEYS[1], ARGV[1])
end
return redis.call('LLEN', KEYS[1])
""")


async def test_a_write_is_acknowledged_by_a_replica(config: HAConfig, key: str) -> None:
    async with RedisHA(config) as ha:
        assert await ha.write(ONCE, [key, key + ":id"], ["m"]) == 1
        assert ha.master_address is not None
        async with node(config, ha.master_address) as master:
            offset = (await master.info("replication"))["master_repl_offset"]
            assert (await master.execute_command("WAIT", 2, 1000)) == 2
        assert offset > 0 and await ha.call("LLEN", key) == 1


async def test_a_transaction_s_replies_come_in_order_and_an_error_in_it_is_raised(
    config: HAConfig, key: str
) -> None:
    async with RedisHA(config) as ha:
        assert await ha.write(ONCE, [key, key + ":id"], ["m"]) == 1
        replies = await ha.transaction(("LRANGE", key, 0, -1), ("LLEN", key), ("EXISTS", key))
        assert replies == [[b"m"], 1, 1]
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await ha.transaction(("LLEN", key), ("GET", key))


async def test_too_few_replica_acks_is_not_acknowledged_and_a_retry_stores_once(
    config: HAConfig, key: str
) -> None:
    greedy = replace(config, min_replica_acks=3, ack_timeout_ms=50, failover_deadline=0.3)
    async with RedisHA(greedy) as ha:
        with pytest.raises(Unavailable, match=r"[012] of 3 replicas confirmed it within 50 ms"):
            await ha.write(ONCE, [key, key + ":id"], ["m"])
    async with RedisHA(config) as ha:
        assert await ha.write(ONCE, [key, key + ":id"], ["m"]) == 1, "it was there: not again"


async def test_concurrent_writes_share_one_round_trip_and_one_wait(
    config: HAConfig, key: str
) -> None:
    async with RedisHA(config) as ha:
        await ha.call("PING")  # the master is found
        before = (ha.stats.batches, ha.stats.batched_commands)
        counts = await asyncio.gather(
            *(ha.write(ONCE, [key, f"{key}:{n}"], [str(n)]) for n in range(40))
        )
        assert (ha.stats.batches, ha.stats.batched_commands) == (before[0] + 1, before[1] + 40)
        assert sorted(counts) == list(range(1, 41))


async def test_a_master_that_lost_the_scripts_gets_their_body(
    make_topology: Callable[..., Topology], key: str
) -> None:
    config = config_for(make_topology())  # SCRIPT FLUSH: not on the topology others share
    async with RedisHA(config) as ha:
        await ha.write(ONCE, [key, key + ":1"], ["before"])
        assert ha.master_address is not None
        async with node(config, ha.master_address) as master:
            await master.script_flush()
        assert await ha.write(ONCE, [key, key + ":2"], ["after"]) == 2


@pytest.mark.parametrize("acks", [0, 1])
async def test_without_acks_no_wait_is_sent(config: HAConfig, key: str, acks: int) -> None:
    async with RedisHA(replace(config, min_replica_acks=acks)) as ha:
        await ha.call("PING")
        assert ha.master_address is not None
        async with node(config, ha.master_address) as master:
            before = await wait_calls(master)  # counted, not reset: the topology is shared
            await ha.write(ONCE, [key, key + ":id"], ["m"])
            assert await wait_calls(master) - before == acks


async def wait_calls(master: Redis) -> int:
    stats = await master.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


async def test_every_attempt_is_timed_for_the_caller(config: HAConfig) -> None:
    timed: list[float] = []
    async with RedisHA(config) as ha:
        ha.on_command = timed.append
        await ha.call("PING")
        await ha.read(lambda client: client.ping())
    assert len(timed) == 2 and all(seconds > 0 for seconds in timed)

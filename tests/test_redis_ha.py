from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from sentinel_board.config import Address, Settings
from sentinel_board.redis_ha import (
    NoFailoverPossible,
    NotReplicated,
    RedisHA,
    Unavailable,
)
from sentinel_board.store import MessageStore
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from tests.fake_sentinel import fake_sentinel
from tests.helpers import node_client, settings_for, wait_until_async


async def ping(client: Redis) -> bool:
    return bool(await client.ping())


async def role(ha: RedisHA) -> str:
    assert ha.master_address is not None
    async with node_client(ha.settings, ha.master_address) as client:
        reply = await client.execute_command("ROLE")
    return str(reply[0].decode())


async def test_finds_the_master_the_sentinels_name(settings: Settings) -> None:
    ha = RedisHA(settings)
    try:
        assert await ha.read(ping)
        assert ha.master_address is not None
        assert await role(ha) == "master"
    finally:
        await ha.aclose()


async def test_a_dead_sentinel_is_skipped_and_the_one_that_answers_comes_first(
    settings: Settings,
) -> None:
    dead = ("127.0.0.1", free_port())
    ha = RedisHA(settings.model_copy(update={"sentinels": [dead, *settings.sentinels]}))
    try:
        assert await ha.read(ping)
        order = [address for address, _ in ha._sentinels]
        assert order == [settings.sentinels[0], dead, *settings.sentinels[1:]]
    finally:
        await ha.aclose()


async def test_a_sentinel_naming_a_replica_is_not_trusted(
    settings: Settings, replica_address: Address
) -> None:
    async with fake_sentinel(replica_address) as stale:
        sentinels = [("127.0.0.1", stale.port), *settings.sentinels]
        ha = RedisHA(settings.model_copy(update={"sentinels": sentinels}))
        try:
            assert await ha.read(ping)
            assert stale.asked == 1
            assert ha.master_address != replica_address
            assert ha.master_address is not None
            assert await role(ha) == "master"
        finally:
            await ha.aclose()


async def test_no_master_anywhere_is_unavailable_with_every_reason(settings: Settings) -> None:
    async with fake_sentinel(None) as ignorant, fake_sentinel(None) as also:
        dead = ("127.0.0.1", free_port())
        sentinels = [("127.0.0.1", ignorant.port), ("127.0.0.1", also.port), dead]
        ha = RedisHA(settings.model_copy(update={"sentinels": sentinels, "failover_deadline": 0.3}))
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


async def test_without_a_majority_of_sentinels_it_fails_at_once(settings: Settings) -> None:
    async with fake_sentinel(None) as ignorant:
        dead = [("127.0.0.1", free_port()), ("127.0.0.1", free_port())]
        sentinels = [("127.0.0.1", ignorant.port), *dead]
        ha = RedisHA(settings.model_copy(update={"sentinels": sentinels, "failover_deadline": 30}))
        try:
            with pytest.raises(NoFailoverPossible, match="only 1 of 3 sentinels answer") as caught:
                await ha.read(ping)
        finally:
            await ha.aclose()
    assert ha.stats.retries == 0, "no failover can come, so none is waited for"
    assert caught.value.retry_after >= 1


async def test_a_sentinel_naming_an_unreachable_master_is_unavailable(settings: Settings) -> None:
    gone = ("127.0.0.1", free_port())
    async with fake_sentinel(gone) as wrong:
        s = settings.model_copy(
            update={"sentinels": [("127.0.0.1", wrong.port)], "failover_deadline": 0.3}
        )
        ha = RedisHA(s)
        try:
            with pytest.raises(Unavailable, match=f"master 127.0.0.1:{gone[1]}: ConnectionError"):
                await ha.read(ping)
        finally:
            await ha.aclose()


async def test_too_few_replica_acks_is_not_acknowledged_and_a_retry_stores_once(
    settings: Settings,
) -> None:
    greedy = RedisHA(
        settings.model_copy(
            update={"min_replica_acks": 3, "ack_timeout_ms": 50, "failover_deadline": 0.3}
        )
    )
    fair = RedisHA(settings)
    try:
        with pytest.raises(Unavailable, match=r"[012] of 3 replicas") as caught:
            await MessageStore(greedy, key_prefix=settings.key_prefix).push(
                "m", idempotency_key="k"
            )
        assert isinstance(caught.value, Unavailable)
        store = MessageStore(fair, key_prefix=settings.key_prefix)
        retried = await store.push("m", idempotency_key="k")
        assert retried.replayed, "the unacknowledged write was there; the retry does not add it"
        assert await store.unread_size() == 1
    finally:
        await greedy.aclose()
        await fair.aclose()


def test_not_replicated_is_a_kind_of_unavailable() -> None:
    assert issubclass(NotReplicated, Unavailable)


async def test_a_demoted_master_is_dropped_on_readonly(pair: tuple[Address, Address]) -> None:
    """A master turned replica under the app (no sentinel told it yet) answers READONLY."""
    first, second = pair
    async with fake_sentinel(first) as sentinel:
        s = Settings(sentinels=[("127.0.0.1", sentinel.port)], failover_deadline=3)
        ha = RedisHA(s)
        store = MessageStore(ha, key_prefix="ro:")
        try:
            await store.push("before")
            async with (
                Redis(host=second[0], port=second[1]) as new,
                Redis(host=first[0], port=first[1]) as old,
            ):
                await new.execute_command("REPLICAOF", "NO", "ONE")
                await old.execute_command("REPLICAOF", *map(str, second))
            sentinel.master = second
            pushed = await store.push("after")
            assert pushed.unread_count == 2
            assert ha.master_address == second
            assert ha.stats.failovers_followed == 1
            assert ha.stats.retries >= 1
        finally:
            await ha.aclose()


@pytest.mark.failover
async def test_switch_master_is_followed_without_waiting_for_an_error(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    ha = RedisHA(settings_for(topology))
    try:
        ha.follow_switch_master()
        assert await ha.read(ping)
        first = ("127.0.0.1", topology.node("redis-1").port)
        assert ha.master_address == first
        reply = topology.ask(topology.sentinel_nodes[0], "SENTINEL", "FAILOVER", "mymaster")
        assert reply == "OK", reply
        # no request is made: only the event can move the client
        await wait_until_async(lambda: ha.master_address != first, timeout=15)
        assert ha.stats.retries == 0
        assert ha.stats.failovers_followed == 1
        assert ha.master_address is not None
        assert await role(ha) == "master"
    finally:
        await ha.aclose()


async def test_replica_preferred_reads_come_from_a_replica(settings: Settings) -> None:
    async def where(client: Redis) -> str:
        reply = await client.execute_command("ROLE")
        return str(reply[0].decode())

    ha = RedisHA(settings.model_copy(update={"read_from": "replica_preferred"}))
    try:
        assert await ha.read(where, stale_ok=True) == "slave"
        assert await ha.read(where) == "master", "what must be fresh still reads the master"
        batched = await ha.call("ROLE", stale_ok=True)
        assert batched[0] == b"slave", "a batched command goes where the read goes"
    finally:
        await ha.aclose()
    master_only = RedisHA(settings)
    try:
        assert await master_only.read(where, stale_ok=True) == "master"
    finally:
        await master_only.aclose()


@pytest.mark.parametrize(
    "reply",
    [
        "NOREPLICAS Not enough good replicas to write.",
        "WAIT cannot be used with replica instances.",
        "UNBLOCKED force unblock from blocking operation, "
        "instance state changed (master -> replica?)",
    ],
)
def test_what_a_failing_over_master_answers_is_retried(reply: str) -> None:
    from redis.exceptions import ResponseError

    from sentinel_board.redis_ha import _transient

    assert _transient(ResponseError(reply))
    assert not _transient(ResponseError("WRONGTYPE Operation against a key holding the wrong kind"))

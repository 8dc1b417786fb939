"""The store's groups: the posts of concurrent requests, one script, stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from sentinel_board.config import RateLimit, Settings
from sentinel_board.ha import HAConfig, RedisHA, Script, Unavailable
from sentinel_board.store import MessageStore, Pushed
from tests.helpers import all_texts, wait_until_async


async def groups_stored(master: Redis, store: MessageStore) -> int:
    """How many groups of posts the store sent: each leaves its dedup key."""
    return len(await master.keys(store.keys.post_group("*")))


async def test_concurrent_posts_go_as_one_script_each_with_the_count_of_its_place(
    store: MessageStore, master: Redis
) -> None:
    await store.push("before")
    pushed = await asyncio.gather(*(store.push(f"p{n}") for n in range(20)))
    assert [p.unread_count for p in pushed] == list(range(2, 22))
    assert await groups_stored(master, store) == 2, "the first post, then the twenty together"
    assert await all_texts(store) == (["before", *(f"p{n}" for n in range(20))], [])


async def test_a_group_with_a_key_twice_stores_it_once_and_replays_it_for_the_second(
    store: MessageStore, master: Redis
) -> None:
    first, other, again = await asyncio.gather(
        store.push("same", idempotency_key="twice"),
        store.push("between"),
        store.push("same", idempotency_key="twice"),
    )
    assert await groups_stored(master, store) == 1
    assert (first.replayed, other.replayed, again.replayed) == (False, False, True)
    assert again.message == first.message and again.unread_count == first.unread_count == 1
    assert await all_texts(store) == (["same", "between"], [])


async def test_the_rate_limit_counts_each_post_of_a_group(
    settings: Settings, master: Redis
) -> None:
    async with RedisHA(settings.ha_config()) as redis:
        store = MessageStore(redis, key_prefix=settings.key_prefix, rate_limit=RateLimit(2, 60))
        results = await asyncio.gather(
            *(store.push(f"p{n}", client="c") for n in range(4)),
            store.push("elsewhere", client="d"),
            return_exceptions=True,
        )
        assert await groups_stored(master, store) == 1
        assert [type(each).__name__ for each in results] == [
            "Pushed", "Pushed", "RateLimited", "RateLimited", "Pushed"
        ]  # fmt: skip
        assert [r.unread_count for r in results if isinstance(r, Pushed)] == [1, 2, 3]
        assert await all_texts(store) == (["p0", "p1", "elsewhere"], [])


class FirstAttemptUnacknowledged(RedisHA):
    """A client whose first write reaches the master but is acknowledged by no replica in
    time (NotReplicated, through a client that waits for more replicas than there are), then
    is sent again with the same keys and arguments, as its retry through a failover does."""

    def __init__(self, config: HAConfig) -> None:
        super().__init__(config)
        self.greedy = RedisHA(replace(config, min_replica_acks=3, ack_timeout_ms=50))
        self.attempts = 0

    async def write(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int], **kw: Any
    ) -> Any:
        self.attempts += 1
        if self.attempts == 1:
            with pytest.raises(Unavailable, match="replicas confirmed it within 50 ms"):
                await self.greedy.write(script, keys, args, within=0.2)
        return await super().write(script, keys, args, **kw)

    async def aclose(self) -> None:
        await self.greedy.aclose()
        await super().aclose()


@pytest.mark.parametrize(
    ("keys", "groups_kept"),
    [((None, None, None), 1), ((None, "k", None), 1), (("k1", "k2"), 0)],
    ids=["no-post-with-a-key", "with-posts-without-a-key", "every-post-with-a-key"],
)
async def test_a_retry_that_finds_its_own_write_is_not_a_replay(
    settings: Settings, master: Redis, keys: tuple[str | None, ...], groups_kept: int
) -> None:
    """A group of posts whose first attempt was not acknowledged: its retry finds the group's
    dedup key (or, for a post with a client's key, that key) and each post is stored once,
    with the count it had. None says replayed (the API's `Idempotent-Replayed: true`): each is
    the post its client sent, once. A group whose every post has a key of its own keeps no
    key of its own: its posts' keys are enough."""
    redis = FirstAttemptUnacknowledged(settings.ha_config())
    try:
        store = MessageStore(redis, key_prefix=settings.key_prefix)
        texts = [f"post {n}" for n in range(len(keys))]
        pushed = await asyncio.gather(
            *(store.push(text, idempotency_key=key) for text, key in zip(texts, keys, strict=True))
        )
        assert redis.attempts == 1, "one group (sent twice: the unacknowledged try, then this)"
        assert [p.replayed for p in pushed] == [False] * len(keys)
        assert [p.unread_count for p in pushed] == list(range(1, len(keys) + 1))
        assert await all_texts(store) == (texts, [])
        assert await groups_stored(master, store) == groups_kept
    finally:
        await redis.aclose()


class HeldWrites(RedisHA):
    """A client whose first write waits to be let go, and that notes when each write was
    called and the `since` it was given."""

    def __init__(self, config: HAConfig) -> None:
        super().__init__(config)
        self.release = asyncio.Event()
        self.calls: list[tuple[float, float | None]] = []

    async def write(
        self, script: Script, keys: Sequence[str], args: Sequence[str | int], **kw: Any
    ) -> Any:
        self.calls.append((asyncio.get_running_loop().time(), kw.get("since")))
        if len(self.calls) == 1:
            await self.release.wait()
        return await super().write(script, keys, args, **kw)


async def test_a_group_s_failover_deadline_counts_from_its_first_post_s_arrival(
    settings: Settings,
) -> None:
    """A post that came while the group before it was in flight (during a failover, for as
    long as the deadline) waits for a master no longer than the deadline in all: the HA
    layer's deadline counts from when it was posted, not from when its group was sent."""
    redis = HeldWrites(settings.ha_config())
    try:
        store = MessageStore(redis, key_prefix=settings.key_prefix)
        first = asyncio.create_task(store.push("first"))
        await wait_until_async(lambda: redis.calls, timeout=5)
        posted = asyncio.get_running_loop().time()
        second = asyncio.create_task(store.push("second"))
        await asyncio.sleep(0)  # posted: it waits for the group in flight
        assert len(redis.calls) == 1
        redis.release.set()
        assert [p.unread_count for p in await asyncio.gather(first, second)] == [1, 2]
        (_, first_since), (sent, since) = redis.calls
        assert first_since is not None and since is not None
        assert posted <= since < sent, "from the post's arrival, before its group was sent"
    finally:
        await redis.aclose()

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from sentinel_board.messages import KeyReused, Message
from sentinel_board.store import FLUSH_BATCH_SIZE, MessageStore
from tests.helpers import all_texts

UNICODE = [
    "plain",
    "emoji 👩‍👩‍👧‍👦 and 🏳️‍🌈",
    "RTL: שלום עולם, مرحبا بالعالم",
    "combining: e\u0301 a\u030a n\u0303",
    "line\nbreaks\tand tabs",
    "한국어 메시지",
    '"quotes" \\ backslash',
    "\u2028\u2029 separators",
]


async def test_push_appends_and_returns_the_unread_count(store: MessageStore) -> None:
    first = await store.push("one")
    second = await store.push("two")
    assert (first.unread_count, second.unread_count) == (1, 2)
    assert not first.replayed
    assert first.message.id != second.message.id
    assert await store.unread_size() == 2
    assert await all_texts(store) == (["one", "two"], [])


async def test_message_is_stored_as_json_with_id_and_time(
    store: MessageStore, master: Redis
) -> None:
    pushed = await store.push("hello")
    [raw] = await master.lrange(store.keys.unread, 0, -1)
    assert json.loads(raw) == {
        "id": pushed.message.id,
        "message": "hello",
        "created_at": pushed.message.created_at,
    }
    assert pushed.message.created_at.endswith("+00:00")


async def test_the_same_key_is_stored_once_and_replays_the_first_result(
    store: MessageStore,
) -> None:
    first = await store.push("once", idempotency_key="k-1")
    await store.push("other")
    again = await store.push("once", idempotency_key="k-1")
    assert again.replayed
    assert again.message == first.message
    assert again.unread_count == first.unread_count == 1
    assert await all_texts(store) == (["once", "other"], [])


async def test_an_id_the_app_made_is_remembered_only_while_the_app_may_retry(
    store: MessageStore, master: Redis
) -> None:
    """The app retries a post within its failover deadline (5 s here): the dedup key of the
    group it was sent in is needed that long, plus a margin, not for the 24 h a client's key
    is kept. It is the only key a post without a client's key leaves besides the list."""
    await store.push("x")
    assert len(await master.keys(store.keys.prefix + "*")) == 2, "UNREAD and the group's key"
    (group,) = await master.keys(store.keys.post_group("*"))
    assert 0 < await master.ttl(group) <= 60


async def test_a_client_key_is_kept_a_day_holding_only_what_a_replay_needs(
    store: MessageStore, master: Redis
) -> None:
    text = "a long message " * 60
    first = await store.push(text, idempotency_key="client-key")
    dedup = store.keys.idempotency_key("client-key")
    assert 86400 - 60 < await master.ttl(dedup) <= 86400
    kept = await master.get(dedup)
    assert kept is not None and b"a long message" not in kept and len(kept) < 120
    again = await store.push(text, idempotency_key="client-key")
    assert again.replayed and again.message == first.message


async def test_a_key_stored_by_an_earlier_version_is_still_replayed(
    store: MessageStore, master: Redis
) -> None:
    """Those kept the whole message; a rolling upgrade meets them for a day."""
    first = Message("f" * 32, "from before", "2026-11-25T09:00:00.000+00:00")
    await master.set(store.keys.idempotency_key("old"), "3\n" + first.to_json(), ex=60)
    again = await store.push("from before", idempotency_key="old")
    assert (again.replayed, again.message, again.unread_count) == (True, first, 3)
    with pytest.raises(KeyReused):
        await store.push("another text", idempotency_key="old")


@pytest.mark.parametrize("text", UNICODE)
async def test_unicode_round_trips_exactly(store: MessageStore, text: str) -> None:
    pushed = await store.push(text)
    assert pushed.message.message == text
    group = await store.read_group(10)
    assert group.unread[0].message == text


async def test_read_group_gives_the_newest_of_each_list_and_both_totals(
    store: MessageStore,
) -> None:
    for i in range(5):
        await store.push(f"old-{i}")
    await store.flush()
    for i in range(4):
        await store.push(f"new-{i}")
    group = await store.read_group(3)
    assert [m.message for m in group.read] == ["old-2", "old-3", "old-4"]
    assert [m.message for m in group.unread] == ["new-1", "new-2", "new-3"]
    assert (group.unread_total, group.read_total) == (4, 5)


async def test_read_group_pages_back_by_offset(store: MessageStore) -> None:
    for i in range(7):
        await store.push(f"m{i}")
    await store.flush()
    pages = [[m.message for m in (await store.read_group(3, offset)).read] for offset in (0, 3, 6)]
    assert pages == [["m4", "m5", "m6"], ["m1", "m2", "m3"], ["m0"]]
    beyond = await store.read_group(3, 7)
    assert (beyond.read, beyond.read_total) == ([], 7)


async def test_flush_moves_everything_to_the_end_of_read_in_order(store: MessageStore) -> None:
    await store.push("a")
    await store.flush()
    for text in "bcd":
        await store.push(text)
    assert await store.flush() == 3
    assert await all_texts(store) == ([], ["a", "b", "c", "d"])
    assert await store.flush() == 0, "a retried flush finds nothing left to move"


async def test_flush_larger_than_one_batch(store: MessageStore, master: Redis) -> None:
    count = FLUSH_BATCH_SIZE * 2 + 7
    payloads = [
        json.dumps({"id": str(i), "message": str(i), "created_at": ""}) for i in range(count)
    ]
    await master.rpush(store.keys.unread, *payloads)
    assert await store.flush() == count
    assert await master.llen(store.keys.unread) == 0
    assert await master.lrange(store.keys.read, 0, -1) == [p.encode() for p in payloads]


async def test_an_entry_not_written_by_us_is_shown_not_dropped(
    store: MessageStore, master: Redis
) -> None:
    await master.rpush(store.keys.unread, "not json")
    group = await store.read_group(10)
    assert [(m.id, m.message) for m in group.unread] == [("", "not json")]


async def test_concurrent_pushes_and_flushes_keep_every_message_exactly_once(
    make_store: Callable[[], MessageStore],
) -> None:
    stores = [make_store() for _ in range(8)]
    texts = [f"m-{w}-{i}" for w in range(8) for i in range(40)]
    pushing = True

    async def writer(store: MessageStore, w: int) -> None:
        for i in range(40):
            await store.push(f"m-{w}-{i}")

    async def flusher(store: MessageStore) -> None:
        while pushing:
            await store.flush()
            await asyncio.sleep(0)

    flushers = [asyncio.create_task(flusher(s)) for s in stores[:3]]
    await asyncio.gather(*(writer(s, w) for w, s in enumerate(stores)))
    pushing = False
    await asyncio.gather(*flushers)
    await stores[0].flush()

    unread, read = await all_texts(stores[0])
    assert unread == []
    assert sorted(read) == sorted(texts)
    for w in range(8):
        mine = [t for t in read if t.startswith(f"m-{w}-")]
        assert mine == [f"m-{w}-{i}" for i in range(40)], "each writer's messages keep post order"

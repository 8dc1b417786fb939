"""Property tests (hypothesis) against real Redis: any text, any interleaving."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel_board.store import MessageStore
from sentinel_board.web.validation import REFUSED

FIXTURES_SHARED = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FIXTURES_SHARED
@given(text=st.text(max_size=1200))
async def test_any_text_round_trips_exactly_or_is_refused_for_a_stated_reason(
    client: httpx.AsyncClient, text: str
) -> None:
    response = await client.post("/api/messages", json={"message": text})
    if not text.strip():
        expected = "must not be empty or blank"
    elif len(text) > 1000:
        expected = "over the limit of 1000"
    elif REFUSED.search(text):
        expected = "is refused"
    else:
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["message"] == text
        listed = (await client.get("/api/messages", params={"limit": 1000})).json()
        stored = [
            m["message"] for m in listed["unread"] + listed["read"] if m["id"] == created["id"]
        ]
        assert stored == [text]
        return
    assert response.status_code == 422
    assert expected in response.json()["detail"]


@FIXTURES_SHARED
@given(plan=st.lists(st.sampled_from(["push", "flush"]), min_size=1, max_size=40))
async def test_any_interleaving_of_pushes_and_flushes_keeps_every_message_once(
    make_store: Callable[[], MessageStore], plan: list[str]
) -> None:
    prefix = f"prop-{uuid.uuid4().hex[:10]}:"
    # Two stores with clients of their own on one key space: two workers of the app.
    stores = [MessageStore(make_store().redis, key_prefix=prefix) for _ in range(2)]
    pushed: list[str] = []

    async def step(index: int, action: str) -> None:
        store = stores[index % 2]
        if action == "push":
            text = f"m{index}"
            await store.push(text)
            pushed.append(text)
        else:
            await store.flush()

    await asyncio.gather(*(step(i, action) for i, action in enumerate(plan)))
    group = await stores[0].read_group(limit=1000)
    unread = [m.message for m in group.unread]
    read = [m.message for m in group.read]
    assert sorted(unread + read) == sorted(pushed)  # each exactly once
    assert group.unread_total + group.read_total == len(pushed)

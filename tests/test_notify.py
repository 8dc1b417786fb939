from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr, ValidationError

from sentinel_board.config import Settings
from sentinel_board.ha import RedisHA, SentinelEvent
from sentinel_board.notify import Notifier, event_id, redact, sign, verify
from sentinel_board.topology import Topology, faults
from tests.helpers import app_client, app_state, settings_for, wait_until_async
from tests.receiver import webhook_receiver

SWITCH = SentinelEvent(
    "+switch-master", "mymaster 127.0.0.1 7000 127.0.0.1 7001", 1_700_000_000.5, "127.0.0.1:26380"
)


def test_the_signature_covers_the_timestamp_and_the_body() -> None:
    body = b'{"type": "+switch-master"}'
    now = str(int(time.time()))
    signature = sign("s3cret", now, body)
    assert signature.startswith("sha256=")
    assert verify("s3cret", now, body, signature)
    assert not verify("other", now, body, signature)
    assert not verify("s3cret", now, body + b" ", signature)
    old = str(int(time.time()) - 3600)
    assert not verify("s3cret", old, body, sign("s3cret", old, body))
    assert not verify("s3cret", "yesterday", body, signature)


def test_logs_show_no_token_of_a_webhook_url() -> None:
    assert redact("https://user:pw@hooks.example.com:8443/T0/B1/XYZ?token=abc") == (
        "https://hooks.example.com:8443/…"
    )


def test_a_bad_webhook_url_is_named_by_number_not_shown() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(webhooks="https://ok.example/hook,ftp://secret-token@host/x")
    assert "URL number 2 does not start with http:// or https://" in str(error.value)
    assert "secret-token" not in str(error.value)


def test_the_event_id_is_the_same_whichever_sentinel_reports_it() -> None:
    other = SentinelEvent(SWITCH.type, SWITCH.payload, SWITCH.received_at + 0.7, "127.0.0.1:26381")
    assert event_id(SWITCH) == event_id(other)
    assert event_id(SWITCH) != event_id(SentinelEvent("+sdown", SWITCH.payload, 0, ""))


def test_the_event_id_is_the_instance_not_the_details_each_sentinel_adds() -> None:
    def event(type_: str, payload: str) -> SentinelEvent:
        return SentinelEvent(type_, payload, 0.0, "127.0.0.1:26380")

    odown = "master mymaster 127.0.0.1 7000 #quorum {}/2"
    assert event_id(event("+odown", odown.format(2))) == event_id(event("+odown", odown.format(3)))
    assert event_id(event("+odown", odown.format(2))) != event_id(
        event("+odown", "master mymaster 127.0.0.1 7001 #quorum 2/2")
    )
    replica = "slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 {}"
    assert event_id(event("+sdown", replica.format(7000))) != event_id(
        event("+sdown", replica.format(7002))
    )
    assert event_id(event("+new-epoch", "3")) != event_id(event("+new-epoch", "4"))


async def test_two_sentinels_reports_of_one_odown_are_sent_once(
    make_notifier: Callable[..., Notifier],
) -> None:
    async with webhook_receiver() as receiver:
        worker = make_notifier(webhooks=[receiver.url])
        name = f"m{uuid.uuid4().hex[:8]}"  # a claim of this event from another run holds 30 s
        first, second = (
            SentinelEvent("+odown", f"master {name} 127.0.0.1 7000 #quorum {n}/2", 0.0, s)
            for n, s in ((2, "127.0.0.1:26380"), (3, "127.0.0.1:26381"))
        )
        assert await worker.notify(first) is True
        assert await worker.notify(second) is False  # claimed already: not queued
        await wait_until_async(lambda: worker.stats.sent == worker.stats.claimed, timeout=5)
    assert [r.json()["payload"] for r in receiver.requests] == [first.payload]


@pytest.fixture
async def make_notifier(settings: Settings) -> AsyncIterator[Callable[..., Notifier]]:
    """Notifiers with Redis clients of their own, as separate workers have."""
    made: list[Notifier] = []

    def create(**changes: object) -> Notifier:
        notifier = Notifier(RedisHA(settings.ha_config()), settings.model_copy(update=changes))
        notifier.start()
        made.append(notifier)
        return notifier

    yield create
    for notifier in made:
        await notifier.aclose()
        await notifier.ha.aclose()


async def test_an_event_heard_by_two_workers_is_sent_once_and_signed(
    make_notifier: Callable[..., Notifier],
) -> None:
    async with webhook_receiver() as receiver:
        options = {"webhooks": [receiver.url], "webhook_secret": SecretStr("s3cret")}
        workers = [make_notifier(**options), make_notifier(**options)]
        won = await asyncio.gather(*(worker.notify(SWITCH) for worker in workers))
        assert sorted(won) == [False, True]
        await wait_until_async(lambda: receiver.requests, timeout=5)
        await asyncio.gather(*(worker.notify(SWITCH) for worker in workers))  # heard again
        winner = workers[won.index(True)]
        await wait_until_async(lambda: winner.stats.claimed_elsewhere == 1, timeout=5)
    assert len(receiver.requests) == 1
    delivered = receiver.requests[0]
    assert delivered.json() == {
        "id": event_id(SWITCH),
        "type": "+switch-master",
        "payload": SWITCH.payload,
        "instance": "mymaster: 127.0.0.1:7000 → 127.0.0.1:7001",
        "master_name": "mymaster",
        "sentinel": "127.0.0.1:26380",
        "time": "2023-11-14T22:13:20.500000+00:00",
        "deduplicated": True,
    }
    headers = delivered.headers
    assert headers["x-sentinel-board-delivery"] == event_id(SWITCH)
    assert verify(
        "s3cret",
        headers["x-sentinel-board-timestamp"],
        delivered.body,
        headers["x-sentinel-board-signature"],
    )


async def test_a_failing_receiver_gets_the_event_again_until_it_takes_it(
    make_notifier: Callable[..., Notifier],
) -> None:
    async with webhook_receiver() as receiver:
        receiver.statuses = [503, 500]
        notifier = make_notifier(webhooks=[receiver.url])
        assert await notifier.notify(SWITCH)
        await wait_until_async(lambda: notifier.stats.sent == 1, timeout=10)
    assert [r.headers["x-sentinel-board-delivery"] for r in receiver.requests] == [
        event_id(SWITCH)
    ] * 3
    assert (notifier.stats.retried, notifier.stats.failed) == (2, 0)
    assert "x-sentinel-board-signature" not in receiver.requests[0].headers  # no secret set


async def test_a_receiver_that_refuses_the_event_is_not_asked_again(
    make_notifier: Callable[..., Notifier],
) -> None:
    async with webhook_receiver() as receiver:
        receiver.statuses = [400]
        notifier = make_notifier(webhooks=[receiver.url])
        await notifier.notify(SWITCH)
        await wait_until_async(lambda: notifier.stats.failed == 1, timeout=5)
    assert len(receiver.requests) == 1 and notifier.stats.retried == 0


async def test_a_hung_receiver_does_not_hold_up_requests(settings: Settings) -> None:
    async with webhook_receiver() as receiver:
        receiver.hold = asyncio.Event()
        with_hooks = settings.model_copy(update={"webhooks": [receiver.url]})
        async with app_client(with_hooks) as client:
            notifier: Notifier = app_state(client).notifier
            await notifier.notify(SWITCH)
            await wait_until_async(lambda: receiver.waiting == 1, timeout=5)
            response = await client.post("/api/messages", json={"message": "not held up"})
            assert response.status_code == 201
            assert receiver.waiting == 1 and receiver.requests == []
            receiver.hold.set()
            await wait_until_async(lambda: notifier.stats.sent == 1, timeout=5)
            status = (await client.get("/api/status")).json()
            assert status["notifications"]["sent"] == 1
            assert '<dd id="webhooks">1</dd>' in (await client.get("/status/panel")).text


@pytest.mark.failover
async def test_a_failover_is_notified_once_across_two_app_instances(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    async with webhook_receiver() as receiver:
        settings = settings_for(topology, webhooks=[receiver.url], failover_deadline=10)
        async with app_client(settings) as first, app_client(settings) as second:
            notifiers: list[Notifier] = [app_state(c).notifier for c in (first, second)]
            faults.kill(topology, "master")
            await wait_until_async(lambda: receiver.of_type("+switch-master"), timeout=30)

            def settled() -> bool:
                return all(
                    n.stats.heard == n.stats.claimed + n.stats.claimed_elsewhere
                    and n.stats.sent + n.stats.failed == n.stats.claimed
                    for n in notifiers
                )

            await wait_until_async(settled, timeout=15)
    seen = Counter((r.json()["type"], r.json()["payload"]) for r in receiver.requests)
    assert {t for t, _ in seen} >= {"+sdown", "+odown", "+elected-leader", "+switch-master"}
    assert max(seen.values()) == 1, seen
    assert all(r.json()["deduplicated"] for r in receiver.requests)
    assert sum(n.stats.claimed_elsewhere for n in notifiers) >= len(seen)

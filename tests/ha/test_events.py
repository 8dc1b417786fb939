from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from sentinel_board.ha import SentinelEvent, sentinel_events
from sentinel_board.ha.events import (
    ListenerState,
    SentinelListener,
    concerns,
    parse_switch_master,
)
from sentinel_board.topology import Topology, faults
from tests.helpers import wait_until_async
from tests.proxy import tcp_proxy


def test_parse_switch_master() -> None:
    switch = parse_switch_master("mymaster 127.0.0.1 6380 127.0.0.1 6381")
    assert (switch.master_name, switch.old, switch.new) == (
        "mymaster",
        ("127.0.0.1", 6380),
        ("127.0.0.1", 6381),
    )


@pytest.mark.parametrize(
    ("type_", "payload", "shown"),
    [
        ("+sdown", "master mymaster 127.0.0.1 7000", "master mymaster 127.0.0.1:7000"),
        (
            "+sdown",
            "slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 7000",
            "replica 127.0.0.1:7001",
        ),
        (
            "+sentinel",
            "sentinel 5e1f 127.0.0.1 26380 @ mymaster 127.0.0.1 7000",
            "sentinel 127.0.0.1:26380",
        ),
        (
            "+switch-master",
            "mymaster 127.0.0.1 7000 127.0.0.1 7001",
            "mymaster: 127.0.0.1:7000 → 127.0.0.1:7001",
        ),
        ("+new-epoch", "3", "3"),
    ],
)
def test_concerns_names_the_instance(type_: str, payload: str, shown: str) -> None:
    assert concerns(SentinelEvent(type_, payload, 0.0, "127.0.0.1:26379")) == shown


@pytest.mark.failover
async def test_a_failover_is_reported_once_though_every_sentinel_reports_it(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    master = topology.node("redis-1")
    events: list[SentinelEvent] = []

    async def listen() -> None:
        password = topology.sentinel_password
        async for event in sentinel_events(topology.sentinel_addresses, password=password):
            events.append(event)

    def subscribed() -> bool:
        return all(
            "psub=1" in str(topology.ask(sentinel, "CLIENT", "LIST"))
            for sentinel in topology.sentinel_nodes
        )

    listener = asyncio.create_task(listen())
    await wait_until_async(subscribed, timeout=5)
    # A sentinel that dies and comes back is listened to again.
    await asyncio.to_thread(faults.kill, topology, "sentinel", 3)
    await asyncio.to_thread(topology.start, "sentinel-3")
    await wait_until_async(subscribed, timeout=5)
    await asyncio.to_thread(faults.kill, topology, "master")
    await wait_until_async(lambda: "+switch-master" in [e.type for e in events], timeout=15)
    # Every sentinel publishes the switch once it knows it; once all name the new master,
    # the duplicates are on their way. Then each publishes a `+set` of its own (a setting
    # changed, with a value of its own): on each sentinel's connection it comes after that
    # sentinel's switch, so once all three are heard every report of the switch was too.
    await wait_until_async(topology.sentinels_agree, timeout=10)
    timeouts = [topology.spec.failover_timeout_ms + n for n in range(len(topology.sentinel_nodes))]
    for sentinel, value in zip(topology.sentinel_nodes, timeouts, strict=True):
        name = topology.spec.master_name
        assert topology.ask(sentinel, "SENTINEL", "SET", name, "failover-timeout", value)

    def every_sentinel_heard_after_its_switch() -> bool:
        heard = [e.payload for e in events if e.type == "+set"]
        return all(any(p.endswith(f"failover-timeout {v}") for p in heard) for v in timeouts)

    await wait_until_async(every_sentinel_heard_after_its_switch, timeout=10)
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)

    types = [e.type for e in events]
    assert types.count("+switch-master") == 1
    assert "+odown" in types and "+sdown" in types
    switch = parse_switch_master(next(e for e in events if e.type == "+switch-master").payload)
    assert switch.old == ("127.0.0.1", master.port)
    assert switch.new[1] in {n.port for n in topology.data_nodes[1:]}


async def test_a_listener_refused_by_a_sentinel_says_so_once_not_per_retry(
    topology: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    """With a wrong password it used to retry in silence, forever: no event, and nobody told."""
    caplog.set_level(logging.INFO, logger="sentinel_board")
    sentinel = topology.sentinel_nodes[0]
    where = f"{sentinel.host}:{sentinel.port}"

    def connections() -> int:
        return int(topology.info(sentinel, "stats").get("total_connections_received", 0))

    before = connections()
    listener = SentinelListener([(sentinel.host, sentinel.port)], password="wrong")

    async def listen() -> None:
        async for _ in listener.events():
            pass

    task = asyncio.create_task(listen())
    try:
        await wait_until_async(lambda: connections() >= before + 3, timeout=15)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    said = [r for r in caplog.records if where in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].levelno == logging.WARNING
    assert "AuthenticationError" in said[0].getMessage() and "wrong" not in said[0].getMessage()
    [state] = listener.states
    assert (state.sentinel, state.listening) == (where, False)
    assert state.error is not None and state.error.startswith("AuthenticationError")


async def test_a_half_open_connection_to_a_sentinel_is_noticed_and_replaced(
    topology: Topology,
) -> None:
    """The sentinel's host vanishes without a reset: nothing comes, nothing fails. The
    listener pings a quiet connection; unanswered, it makes a new one."""
    sentinel = topology.sentinel_nodes[0]
    events: list[SentinelEvent] = []
    async with tcp_proxy((sentinel.host, sentinel.port)) as proxy:
        states: list[ListenerState] = []
        listener = SentinelListener(
            [proxy.address], password=topology.sentinel_password, on_change=states.append
        )

        async def listen() -> None:
            async for event in listener.events():
                events.append(event)

        task = asyncio.create_task(listen())
        try:
            await wait_until_async(lambda: listener.states[0].listening, timeout=5)
            proxy.freeze()
            await wait_until_async(lambda: proxy.connections >= 2, timeout=15)
            assert [s.listening for s in states] == [True, False, True][: len(states)]
            assert str(states[1].error).startswith("Stalled: no answer for ")

            def heard() -> bool:  # SENTINEL SET publishes +set, once the new link listens
                topology.ask(sentinel, "SENTINEL", "SET", "mymaster", "quorum", "2")
                return any(e.type == "+set" for e in events)

            await wait_until_async(heard, timeout=10, interval=0.5)
            assert listener.states[0].listening
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

"""Failover is normal operation: the suite kills nodes of a topology of its own."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from sentinel_board.drills.workload import Record, Workload
from sentinel_board.topology import Topology, faults
from sentinel_board.topology.layout import Node
from tests.helpers import app_client, settings_for, wait_until_async

pytestmark = pytest.mark.failover

DOWN_AFTER_MS = 1000


def lists_of(topology: Topology, node: Node) -> tuple[list[Any], list[Any]]:
    unread = topology.ask(node, "LRANGE", "UNREAD", 0, -1, timeout=1)
    return unread, topology.ask(node, "LRANGE", "READ", 0, -1, timeout=1)


@pytest.fixture
async def board(
    make_topology: Callable[..., Topology], server: str
) -> AsyncIterator[tuple[Topology, httpx.AsyncClient]]:
    topology = make_topology(down_after_ms=DOWN_AFTER_MS, server=server)
    settings = settings_for(topology, failover_deadline=10)
    async with app_client(settings, timeout=30) as client:
        yield topology, client


async def run_workload(
    client: httpx.AsyncClient, fault: Callable[[], object], settle: Callable[[], bool]
) -> tuple[Record, float]:
    """Writers and readers run; the fault strikes once writes flow; they stop once settled."""
    workload = Workload(client)
    await wait_until_async(lambda: len(workload.record.acked) >= 20, timeout=10)
    struck = time.time()
    await asyncio.to_thread(fault)

    def flowing() -> bool:
        return len(workload.record.ack_times(since=time.time() - 0.5)) > 20

    await wait_until_async(lambda: settle() and flowing(), timeout=20)
    return await workload.stop(), struck


async def assert_exactly_once_everywhere(
    client: httpx.AsyncClient, topology: Topology, record: Record
) -> None:
    # Read on the master whole (a fast machine writes more than a page of the API holds).
    unread, read = lists_of(topology, topology.node(topology.master_name() or ""))
    page = (await client.get("/api/messages", params={"limit": 1})).json()
    assert (page["unread_total"], page["read_total"]) == (len(unread), len(read)), "as the board"
    stored = [json.loads(raw)["message"] for raw in unread + read]
    assert len(stored) == len(set(stored)), "a message is stored twice"
    lost = set(record.acked) - set(stored)
    assert not lost, f"{len(lost)} acknowledged messages lost"

    alive = [node for node in topology.data_nodes if topology.is_alive(node.name)]
    first = lists_of(topology, alive[0])

    def converged() -> bool:
        return all(lists_of(topology, node) == first for node in alive[1:])

    await wait_until_async(converged, timeout=10)


async def test_kill_master_while_posting_loses_nothing_and_recovers(
    board: tuple[Topology, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    topology, client = board
    caplog.set_level(logging.INFO, logger="sentinel_board")
    old_master = topology.master_name()

    def new_master() -> bool:
        return topology.master_name() not in (None, old_master)

    record, struck = await run_workload(client, lambda: faults.kill(topology, "master"), new_master)

    assert 500 not in record.errors()
    await assert_exactly_once_everywhere(client, topology, record)
    promoted = topology.node(topology.master_name() or "")
    assert "replicaof" not in promoted.config_path.read_text(), "Sentinel rewrote its config"
    followed = [r for r in caplog.records if hasattr(r, "failover")]
    assert [r.failover["new"] for r in followed] == [f"127.0.0.1:{promoted.port}"]
    # Order and outcome, not how long it took (the drill `master-kill` reports the write gap):
    # the board followed the failover after the fault, and writes were acknowledged after that.
    assert struck < followed[0].created
    assert record.ack_times(since=followed[0].created)
    logged = {r.sentinel_event["type"] for r in caplog.records if hasattr(r, "sentinel_event")}
    assert {"+sdown", "+odown", "+switch-master"} <= logged


async def test_kill_replica_interrupts_nothing(board: tuple[Topology, httpx.AsyncClient]) -> None:
    topology, client = board
    master = topology.master_name()
    killed: list[str] = []

    def kill_replica() -> None:
        killed.append(faults.kill(topology, "replica").name)

    def replica_marked_down() -> bool:
        return bool(killed) and topology.sentinels_see_down(killed[0])

    record, _ = await run_workload(client, kill_replica, replica_marked_down)

    assert record.errors() == {}, "every request succeeded at the first try"
    assert topology.master_name() == master
    await assert_exactly_once_everywhere(client, topology, record)

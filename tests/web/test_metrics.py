from __future__ import annotations

import os

import httpx

from sentinel_board.topology import Topology


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in /metrics")


async def test_metrics_count_requests_by_route_and_status(
    client: httpx.AsyncClient, topology: Topology
) -> None:
    await client.post("/api/messages", json={"message": "one"})
    await client.post("/api/messages", json={"message": "two"})
    await client.post("/api/messages", json={"message": ""})
    await client.get("/no/such/page")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert (
        value(
            text,
            'sentinel_board_http_requests_total{method="POST",route="/api/messages",status="201"}',
        )
        == 2
    )
    assert (
        value(
            text,
            'sentinel_board_http_requests_total{method="POST",route="/api/messages",status="422"}',
        )
        == 1
    )
    assert (
        value(
            text, 'sentinel_board_http_requests_total{method="GET",route="unmatched",status="404"}'
        )
        == 1
    )
    assert (
        value(
            text,
            'sentinel_board_http_request_duration_seconds_count{method="POST",route="/api/messages"}',
        )
        == 3
    )
    assert value(text, "sentinel_board_redis_round_trip_seconds_count") >= 2
    assert value(text, "sentinel_board_failovers_followed_total") == 0
    assert value(text, "sentinel_board_redis_unavailable_total") == 0
    master = topology.node(topology.master_name() or "")
    assert value(text, f'sentinel_board_master{{address="127.0.0.1:{master.port}"}}') == 1


async def test_the_two_busiest_routes_are_counted_by_their_route(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/message", data={"message": "by form"})
    await client.get("/unread-list/size")
    await client.get("/unread-list/size")
    text = (await client.get("/metrics")).text
    requests = "sentinel_board_http_requests_total"
    assert value(text, requests + '{method="POST",route="/message",status="200"}') == 1
    assert value(text, requests + '{method="GET",route="/unread-list/size",status="200"}') == 2
    assert 'route="unmatched"' not in text


async def test_metrics_say_which_worker_answered_and_what_it_holds(
    client: httpx.AsyncClient,
) -> None:
    text = (await client.get("/metrics")).text
    assert value(text, f'sentinel_board_worker{{pid="{os.getpid()}"}}') == 1
    assert value(text, "sentinel_board_asyncio_tasks") >= 1
    assert value(text, "process_resident_memory_bytes") > 10_000_000
    assert value(text, "process_open_fds") > 3

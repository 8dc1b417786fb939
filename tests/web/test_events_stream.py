from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import uvicorn

from sentinel_board.topology import Topology, faults
from sentinel_board.topology.ports import free_port
from sentinel_board.web.app import create_app
from sentinel_board.web.server import HTTP_PROTOCOL
from tests.helpers import settings_for, wait_until_async


@pytest.mark.failover
async def test_events_stream_a_failover_once_each(make_topology: Callable[..., Topology]) -> None:
    topology = make_topology()
    port = free_port()
    config = uvicorn.Config(
        create_app(settings_for(topology)),
        host="127.0.0.1", port=port, log_level="warning", lifespan="on", http=HTTP_PROTOCOL,
    )  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until_async(lambda: server.started, timeout=10)

        def app_subscribed() -> bool:  # the app listens on every sentinel before the fault
            return all(
                "psub=1" in str(topology.ask(sentinel, "CLIENT", "LIST"))
                for sentinel in topology.sentinel_nodes
            )

        await wait_until_async(app_subscribed, timeout=10)
        events: list[tuple[str, dict[str, Any]]] = []
        url = f"http://127.0.0.1:{port}/api/events"
        async with httpx.AsyncClient(timeout=30) as client, client.stream("GET", url) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == ": listening to the sentinels"
            await asyncio.to_thread(faults.kill, topology, "master")
            kind = ""
            async with asyncio.timeout(20):
                async for line in lines:
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        events.append((kind, json.loads(line.removeprefix("data: "))))
                        if kind == "+switch-master":
                            break
        kinds = [k for k, _ in events]
        assert kinds.count("+switch-master") == 1 and "+odown" in kinds
        switch = dict(events)["+switch-master"]
        assert switch["payload"].startswith("mymaster 127.0.0.1 ")
        assert set(switch) == {"type", "payload", "received_at", "sentinel"}
    finally:
        server.should_exit = True
        await serving

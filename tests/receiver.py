"""A real HTTP server that records webhook deliveries, answering as a test tells it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from sentinel_board.topology.ports import free_port
from tests.helpers import wait_until_async


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer, in turn; 200 once they are used up.
    statuses: list[int] = field(default_factory=list)
    # When set, requests wait until it is released.
    hold: asyncio.Event | None = None
    waiting: int = 0

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.requests if r.headers["x-sentinel-board-event"] == event_type]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hook")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        if receiver.hold is not None:
            receiver.waiting += 1
            await receiver.hold.wait()
            receiver.waiting -= 1
        receiver.requests.append(Received(dict(request.headers), body))
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        await Response(status_code=status)(scope, receive, send)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_until_async(lambda: server.started or task.done(), timeout=5)
    if task.done():
        task.result()  # raises the server's error
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.should_exit = True
        await task

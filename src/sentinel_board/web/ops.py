"""Monitoring for the people and tools that run the board: health, readiness, status."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from sentinel_board.ha import RedisHA, Unavailable, format_address
from sentinel_board.monitor import status_view
from sentinel_board.notify import Notifier
from sentinel_board.picture import StatusPicture
from sentinel_board.web.deps import Store
from sentinel_board.web.metrics import Metrics

router = APIRouter(tags=["operations"])
READY_WITHIN = 2.0  # seconds: a probe answers well before a load balancer gives up


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (it asks nothing of Redis)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "No writable master; the reason."}})
async def readyz(request: Request, store: Store) -> JSONResponse:
    """The master is reachable and takes a write that a replica confirms."""
    redis: RedisHA = request.app.state.redis
    try:
        await store.check_writable(READY_WITHIN)
    except Unavailable as error:
        return JSONResponse({"status": "unavailable", "reason": error.reason}, 503)
    master = redis.master_address
    return JSONResponse({"status": "ready", "master": format_address(master) if master else None})


KEEPALIVE = 15.0  # seconds: a comment line keeps proxies from closing a quiet stream


@router.get("/api/events", response_class=StreamingResponse)
async def events(request: Request) -> StreamingResponse:
    """Server-Sent Events: one per Sentinel event (+sdown, +odown, +switch-master, ...),
    reported once though every sentinel publishes it."""
    redis: RedisHA = request.app.state.redis

    async def stream() -> AsyncIterator[str]:
        with redis.subscribe() as queue:
            yield ": listening to the sentinels\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                data = json.dumps(dataclasses.asdict(event))
                yield f"event: {event.type}\ndata: {data}\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


class BoardStatus(StatusPicture):
    """The picture, and the webhooks' deliveries (None when none is configured)."""

    notifications: dict[str, int] | None


async def app_status(request: Request) -> BoardStatus:
    view = await status_view(request.app.state.redis)
    # Every worker's counts, not the answering one's; 503s: those served to users.
    metrics: Metrics = request.app.state.metrics
    totals = metrics.totals()
    view["app"]["retries"] = int(totals["retries"])
    view["app"]["failovers_followed"] = int(totals["failovers_followed"])
    view["app"]["unavailable"] = int(totals["unavailable_served"])
    notifier: Notifier | None = request.app.state.notifier
    stats = dataclasses.asdict(notifier.stats) if notifier else None
    return BoardStatus(**view, notifications=stats)


# Its fields are documented in the README; the schema says an object, as before, and FastAPI
# does not check each answer against the picture's types again.
OBJECT: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}
}


@router.get("/api/status", response_model=None, responses=OBJECT)
async def status(request: Request) -> BoardStatus:
    """The topology as the sentinels see it now, the board's own view, the latest events,
    and the webhooks' deliveries (null when none is configured)."""
    return await app_status(request)

"""The floor of each route: our app as `serve` runs it (the same HTTP server, routes, templates
and workers), its store answering from memory instead of Redis.

What a route costs beyond its floor is Redis and the HA layer: `make bench` reports each
route's requests/s as a share of its floor. Served by `python -m bench.floor` (the options of
`sentinel-board serve`); the factory is `bench.floor:floor_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import click
from fastapi import FastAPI

from bench.scale import fill_payload
from sentinel_board.messages import Message
from sentinel_board.store import MessageStore, Pushed, StoredGroup
from sentinel_board.web.server import HTTP_SERVERS, HttpServer, serve, served_app

PAGE = 100  # messages in each list, as the bench seeds them for the messages page


class FloorStore(MessageStore):
    """The store's answers, made in memory: what the routes do with them is unchanged."""

    def __init__(self, store: MessageStore) -> None:
        super().__init__(store.redis)
        self.stored = [fill_payload().encode()] * PAGE
        self.count = 0

    async def push(
        self, text: str, *, idempotency_key: str | None = None, client: str = ""
    ) -> Pushed:
        self.count += 1
        return Pushed(Message("0" * 32, text, "2026-11-26T09:00:00.000+00:00"), self.count, False)

    async def check_writable(self, within: float) -> None:
        return None

    async def unread_size(self) -> int:
        return self.count

    async def read_stored(self, limit: int, offset: int = 0) -> StoredGroup:
        page = self.stored[:limit]
        return StoredGroup(page, page, PAGE, PAGE)

    async def flush(self) -> int:
        moved, self.count = self.count, 0
        return moved


def floor_app() -> FastAPI:
    app = served_app()
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with started(app):
            app.state.store = FloorStore(app.state.store)
            yield

    app.router.lifespan_context = lifespan
    return app


@click.command()
@click.option("--port", type=int, required=True)
@click.option("--workers", type=int, default=1)
@click.option("--http-server", type=click.Choice(HTTP_SERVERS), default="uvicorn")
def main(port: int, workers: int, http_server: str) -> None:
    server: HttpServer = "granian" if http_server == "granian" else "uvicorn"
    serve("127.0.0.1", port, workers, "warning", "text", server, app="bench.floor:floor_app")


if __name__ == "__main__":
    main()

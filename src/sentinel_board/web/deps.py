from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sentinel_board.config import Settings
from sentinel_board.store import MessageStore


async def _store(request: Request) -> MessageStore:  # async: no thread hop per request
    store: MessageStore = request.app.state.store
    return store


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """Whom a rate limit counts: the peer's address (behind a proxy, uvicorn's
    --forwarded-allow-ips makes it the client's from X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


Store = Annotated[MessageStore, Depends(_store)]
AppSettings = Annotated[Settings, Depends(_settings)]

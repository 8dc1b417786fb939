from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sentinel_board.config import Settings
from sentinel_board.store import MessageStore, Pushed
from sentinel_board.web.validation import idempotency_key, message_text


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


async def post_message(request: Request, text: str | None, key: str | None) -> Pushed:
    """The one path of a post, for the form and the API alike: the text and the
    Idempotency-Key checked (422), stored once (a key reused for another text: KeyReused)."""
    store: MessageStore = request.app.state.store
    settings: Settings = request.app.state.settings
    checked = message_text(text, settings.max_message_length)
    return await store.push(
        checked, idempotency_key=idempotency_key(key), client=client_address(request)
    )


Store = Annotated[MessageStore, Depends(_store)]
AppSettings = Annotated[Settings, Depends(_settings)]

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from sentinel_board.messages import Message
from sentinel_board.store import Pushed, StoredGroup
from sentinel_board.web.deps import AppSettings, Store, post_message
from sentinel_board.web.validation import Offset, json_media

router = APIRouter(prefix="/api", tags=["messages"])


class ErrorBody(BaseModel):
    """Every error answer of the API: what is wrong, in one sentence."""

    detail: str


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    403: _error("A cross-site request (Origin or Sec-Fetch-Site from another site)."),
    503: _error("No Redis master within the failover deadline; retry after Retry-After."),
}
INVALID: dict[int | str, dict[str, Any]] = {
    413: _error("The body is over SENTINEL_BOARD_MAX_BODY_BYTES."),
    422: _error("What is wrong with the request, field by field."),
}


class NewMessage(BaseModel):
    message: str = Field(
        description="The text, stored exactly as sent: not blank, at most "
        "SENTINEL_BOARD_MAX_MESSAGE_LENGTH characters (1000 by default), no control characters "
        "but newline, carriage return and tab."
    )


class MessageOut(BaseModel):
    id: str
    message: str
    created_at: str


class CreatedMessage(MessageOut):
    unread_count: int


class MessagePage(BaseModel):
    unread: list[MessageOut]
    read: list[MessageOut]
    unread_total: int
    read_total: int


class UnreadSize(BaseModel):
    size: int


class Flushed(BaseModel):
    moved: int


def _fields(message: Message) -> dict[str, str]:
    return {"id": message.id, "message": message.message, "created_at": message.created_at}


def _out(message: Message) -> MessageOut:
    return MessageOut(**_fields(message))


def created(pushed: Pushed) -> CreatedMessage:
    """A post's answer, from the declared route and from web/hot.py alike."""
    return CreatedMessage(**_fields(pushed.message), unread_count=pushed.unread_count)


async def _json_body(request: Request) -> None:
    """415 for a body that is not said to be JSON (a form's, say), before it is read as one:
    not a 422 about dictionaries."""
    media = json_media(request.headers.get("content-type", ""))
    if media is None:
        return
    said = f"not {media}" if media else "and the request has no Content-Type"
    raise HTTPException(415, f"the body must be JSON (Content-Type: application/json), {said}")


@router.post(
    "/messages",
    status_code=201,
    dependencies=[Depends(_json_body)],
    responses={
        409: _error("Idempotency-Key reused for another message"),
        415: _error("The body is not JSON: its Content-Type names another type."),
        429: _error("Over SENTINEL_BOARD_RATE_LIMIT; retry after Retry-After."),
        **UNAVAILABLE,
        **INVALID,
    },
)
async def create_message(
    request: Request,
    body: NewMessage,
    response: Response,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retrying with the same key returns the first result, stored once.",
        ),
    ] = None,
) -> CreatedMessage:
    pushed = await post_message(request, body.message, key)
    if pushed.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return created(pushed)


@functools.lru_cache(maxsize=4096)
def _message_json(stored: bytes) -> bytes:
    # A stored message never changes: as the page keeps each one's markup (routes), the list
    # keeps each one's JSON. Validating and serializing a model per message on every list
    # made it a quarter of the page's speed.
    return _out(Message.from_json(stored)).model_dump_json().encode()


def page_json(group: StoredGroup) -> bytes:
    """MessagePage's JSON, each message's kept JSON spliced in (tests: the same bytes as the
    model's own)."""
    return b"".join([
        b'{"unread":[', b",".join(map(_message_json, group.unread)),
        b'],"read":[', b",".join(map(_message_json, group.read)),
        b'],"unread_total":%d,"read_total":%d}' % (group.unread_total, group.read_total),
    ])  # fmt: skip


@router.get("/messages", response_model=MessagePage, responses={**UNAVAILABLE, **INVALID})
async def list_messages(
    store: Store,
    settings: AppSettings,
    limit: Annotated[int | None, Query(ge=1, description="Newest messages of each list.")] = None,
    offset: Offset = 0,
) -> Response:
    if limit is not None and limit > settings.max_page_limit:
        raise HTTPException(422, f"limit: at most {settings.max_page_limit}")
    group = await store.read_stored(limit or settings.page_limit, offset)
    return Response(page_json(group), media_type="application/json")


@router.get("/unread-list/size", responses=UNAVAILABLE)
async def unread_size(store: Store) -> UnreadSize:
    return UnreadSize(size=await store.unread_size())


@router.post("/messages/flush", responses=UNAVAILABLE)
async def flush(store: Store) -> Flushed:
    return Flushed(moved=await store.flush())

"""The seed's busiest requests answered in one ASGI layer, in front of FastAPI's stack.

`GET /unread-list/size`, `GET /messages` (no query), `POST /message` and `POST /api/messages`
in their usual shape (a same-site post, urlencoded or a JSON object with only a string
`message`, its length declared and within the limit) are answered here, through the same code
as their declared routes: the one path of a post (`deps.post_message`), the same fragments,
page and JSON, the same error answers (`errors.error_response`, `refusals.refusal_response`),
the same security headers and metrics. Anything else (another method or content type, a
cross-site origin, no Content-Length, a query, a body that is not what clients send) goes on,
untouched, to the full stack, whose middleware, routes and validation answer it. The profile
said why: the count went through seven middleware layers, each wrapping `send`, and FastAPI's
routing and dependency solving; with them gone, the count's floor (the same server and
workers, no Redis) went from 10,763 to 16,552 req/s on uvicorn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentinel_board.ha import Unavailable
from sentinel_board.store import KeyReused, Pushed, RateLimited
from sentinel_board.web.deps import post_message
from sentinel_board.web.errors import error_response
from sentinel_board.web.refusals import refusal_response
from sentinel_board.web.routes import MAX_FORM_FIELDS, URLENCODED, count_html, messages
from sentinel_board.web.security import RAW_HEADERS, cross_site_reason
from sentinel_board.web.validation import json_media

HTML = [(b"content-type", b"text/html; charset=utf-8"), *RAW_HEADERS]
JSON = [(b"content-type", b"application/json"), *RAW_HEADERS]
REPLAYED = [(b"idempotent-replayed", b"true")]


class HotRoutes:
    """`app`: the full stack. The store, settings and metrics are the app's (scope["app"])."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/unread-list/size" and method == "GET":
                await self._count(scope, send)
                return
            if path == "/messages" and method == "GET" and not scope["query_string"]:
                await self._page(scope, receive, send)
                return
            if path in POSTS and method == "POST":
                await self._post(scope, receive, send, POSTS[path])
                return
        await self.app(scope, receive, send)

    async def _count(self, scope: Scope, send: Send) -> None:
        with _Observed(scope, "/unread-list/size") as observed:
            try:
                body = count_html(await scope["app"].state.store.unread_size()).encode()
            except Unavailable as error:
                observed.status = await _refused(scope, send, error)
                return
            observed.status = await _answer(send, 200, HTML, body)

    async def _page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The messages page at its first offset, rendered by its own route function."""
        with _Observed(scope, "/messages") as observed:
            state = scope["app"].state
            try:
                page = await messages(Request(scope, receive), state.store, state.settings)
            except Unavailable as error:
                observed.status = await _refused(scope, send, error)
                return
            await page(scope, receive, _with_security(send))
            observed.status = page.status_code

    async def _post(self, scope: Scope, receive: Receive, send: Send, post: _Post) -> None:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if (
            not length.isdigit()
            or int(length) > self.max_body_bytes
            or cross_site_reason("POST", headers) is not None
        ):
            await self.app(scope, receive, send)
            return
        with _Observed(scope, post.path) as observed:
            body = await _body(receive)
            if body is None:  # the client went away: no answer, nothing counted
                observed.status = None
                return
            text = post.text(headers.get("content-type", ""), body)
            if text is None:  # not the usual shape: the full stack reads it again and answers
                observed.status = None
                await self.app(scope, _replay(body, receive), send)
                return
            try:
                pushed = await post_message(Request(scope, receive), text,
                                            headers.get("idempotency-key"))  # fmt: skip
            except (HTTPException, Unavailable, RateLimited, KeyReused) as error:
                observed.status = await _refused(scope, send, error)
                return
            observed.status = await _answer(send, *post.answer(pushed))


class _Observed:
    """The request counted in the app's metrics as the full stack counts it: by route and
    status, 500 when an error escapes; `status` None when the full stack answered (and
    counted) it."""

    def __init__(self, scope: Scope, route: str) -> None:
        self.scope, self.route = scope, route
        self.status: int | None = 500
        self.started = time.perf_counter()

    def __enter__(self) -> _Observed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.status is not None:
            elapsed = time.perf_counter() - self.started
            metrics = self.scope["app"].state.metrics
            metrics.observe(self.scope["method"], self.route, self.status, elapsed)


class _Post:
    """One of the two posts: how its usual body gives the text, and what it answers."""

    def __init__(
        self,
        path: str,
        text: Callable[[str, bytes], str | None],
        answer: Callable[[Pushed], tuple[int, list[tuple[bytes, bytes]], bytes]],
    ) -> None:
        self.path, self.text, self.answer = path, text, answer


def _form_text(content_type: str, body: bytes) -> str | None:
    """The urlencoded form's `message`, read as routes.posted_message reads it; None for any
    other body, or a form without the field (the full stack says which)."""
    if content_type.partition(";")[0].strip().lower() != URLENCODED:
        return None
    try:
        fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True,
                           max_num_fields=MAX_FORM_FIELDS)  # fmt: skip
    except ValueError:
        return None
    return dict(fields).get("message")


def _json_text(content_type: str, body: bytes) -> str | None:
    """{"message": "..."} and nothing else; None for anything the declared route must judge."""
    if json_media(content_type) is not None:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if type(data) is not dict or len(data) != 1 or type(data.get("message")) is not str:
        return None
    text: str = data["message"]
    return text


def _form_answer(pushed: Pushed) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return 200, HTML, count_html(pushed.unread_count).encode()


def _json_answer(pushed: Pushed) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    message = pushed.message
    answer = {
        "id": message.id,
        "message": message.message,
        "created_at": message.created_at,
        "unread_count": pushed.unread_count,
    }
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    return 201, JSON + REPLAYED if pushed.replayed else JSON, body


POSTS = {
    "/message": _Post("/message", _form_text, _form_answer),
    "/api/messages": _Post("/api/messages", _json_text, _json_answer),
}


async def _body(receive: Receive) -> bytes | None:
    """The whole body (the server reads no more than its Content-Length), or None when the
    client went away first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return status


async def _refused(scope: Scope, send: Send, error: Exception) -> int:
    """The answer the full stack's handlers give to the same error, with the same headers."""
    if isinstance(error, HTTPException):
        response = error_response(scope["path"], error.status_code, str(error.detail),
                                  error.headers)  # fmt: skip
    else:
        response = refusal_response(scope["path"], error)
    await response(scope, _nothing, _with_security(send))
    return response.status_code


def _with_security(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *RAW_HEADERS]
        await send(message)

    return sending


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read once, given again to the full stack; then the connection's own."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again

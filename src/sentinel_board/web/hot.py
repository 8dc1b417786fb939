"""The seed's busiest requests answered in one ASGI layer, ahead of FastAPI (app.Board).

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
workers, no Redis) went from 10,763 to 16,552 req/s on uvicorn. The layer was first the
outermost middleware, inside FastAPI's own (its error, telemetry and body-limit layers):
now it comes before them too, and the count went from 10,818 to 12,985 req/s side by side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentinel_board.ha import Unavailable
from sentinel_board.messages import KeyReused
from sentinel_board.store import Pushed, RateLimited
from sentinel_board.web.api import created
from sentinel_board.web.deps import post_message
from sentinel_board.web.errors import error_response
from sentinel_board.web.refusals import refusal_response
from sentinel_board.web.routes import URLENCODED, count_html, messages, urlencoded_message
from sentinel_board.web.security import RAW_HEADERS, cross_site_reason
from sentinel_board.web.validation import json_media, media_type

RawHeaders = list[tuple[bytes, bytes]]
HTML: RawHeaders = [(b"content-type", b"text/html; charset=utf-8"), *RAW_HEADERS]
JSON: RawHeaders = [(b"content-type", b"application/json"), *RAW_HEADERS]
REPLAYED: RawHeaders = [(b"idempotent-replayed", b"true")]
REFUSALS = (HTTPException, Unavailable, RateLimited, KeyReused)  # what the stack's handlers answer


class HotRoutes:
    """`app`: the full stack. The store, settings and metrics are the app's (scope["app"])."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/unread-list/size" and method == "GET":
                await self._count(_Answer(scope, send, path))
                return
            if path == "/messages" and method == "GET" and not scope["query_string"]:
                await self._page(_Answer(scope, send, path), receive)
                return
            if path in POSTS and method == "POST":
                await self._post(scope, receive, send, POSTS[path])
                return
        await self.app(scope, receive, send)

    async def _count(self, answer: _Answer) -> None:
        with answer:
            try:
                count = await answer.state.store.unread_size()
            except Unavailable as error:
                await answer.refuse(error)
                return
            await answer.send(200, HTML, count_html(count).encode())

    async def _page(self, answer: _Answer, receive: Receive) -> None:
        """The messages page at its first offset, rendered by its own route function."""
        with answer:
            state = answer.state
            try:
                page = await messages(Request(answer.scope, receive), state.store, state.settings)
            except Unavailable as error:
                await answer.refuse(error)
                return
            await answer.respond(page)

    async def _post(self, scope: Scope, receive: Receive, send: Send, post: _Post) -> None:
        headers = Headers(scope=scope)
        length = headers.get("content-length", "")
        if (
            not (length.isascii() and length.isdigit())
            or int(length) > self.max_body_bytes
            or cross_site_reason("POST", headers) is not None
        ):
            await self.app(scope, receive, send)
            return
        answer = _Answer(scope, send, post.path)
        with answer:
            body, whole = await _body(receive, self.max_body_bytes)
            text = post.text(headers.get("content-type", ""), body) if whole else None
            if text is None:  # not the usual shape: the full stack reads it again and answers
                answer.status = None  # and counts it
                await self.app(scope, _replay(body, whole, receive), send)
                return
            try:
                pushed = await post_message(Request(scope, receive), text,
                                            headers.get("idempotency-key"))  # fmt: skip
            except REFUSALS as error:
                await answer.refuse(error)
                return
            await answer.send(*post.answer(pushed))


class _Answer:
    """One request's answer, counted in the app's metrics as the full stack counts it: by
    route and status (set before the answer is sent), 500 when an error escapes; nothing
    when `status` is None (the full stack answered and counted it)."""

    def __init__(self, scope: Scope, send: Send, route: str) -> None:
        self.scope, self.route, self._send = scope, route, send
        self.state = scope["app"].state
        self.status: int | None = 500
        self.started = time.perf_counter()

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.status is not None:
            elapsed = time.perf_counter() - self.started
            self.state.metrics.observe(self.scope["method"], self.route, self.status, elapsed)

    async def send(self, status: int, headers: RawHeaders, body: bytes) -> None:
        self.status = status
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

    async def refuse(self, error: Exception) -> None:
        """The answer the full stack's handlers give to the same error."""
        if isinstance(error, HTTPException):
            await self.respond(error_response(self.scope["path"], error.status_code,
                                              str(error.detail), error.headers))  # fmt: skip
        else:
            await self.respond(refusal_response(self.scope["path"], error))

    async def respond(self, response: Response) -> None:
        """A Starlette response, with the security headers the stack adds to every answer."""
        self.status = response.status_code
        response.raw_headers.extend(RAW_HEADERS)
        await response(self.scope, _nothing, self._send)


class _Post:
    """One of the two posts: how its usual body gives the text, and what it answers."""

    def __init__(
        self,
        path: str,
        text: Callable[[str, bytes], str | None],
        answer: Callable[[Pushed], tuple[int, RawHeaders, bytes]],
    ) -> None:
        self.path, self.text, self.answer = path, text, answer


def _form_text(content_type: str, body: bytes) -> str | None:
    """The urlencoded form's `message`, read as the declared route reads it; None for any
    other body, or a form without the field or with too many (the full stack says which)."""
    if media_type(content_type) != URLENCODED:
        return None
    try:
        return urlencoded_message(body)
    except ValueError:
        return None


def _json_text(content_type: str, body: bytes) -> str | None:
    """{"message": "..."} and nothing else; None for anything the declared route must judge
    (invalid JSON, nested too deep for the parser, other fields or types)."""
    if json_media(content_type) is not None:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if type(data) is not dict or len(data) != 1 or type(data.get("message")) is not str:
        return None
    text: str = data["message"]
    return text


def _form_answer(pushed: Pushed) -> tuple[int, RawHeaders, bytes]:
    return 200, HTML, count_html(pushed.unread_count).encode()


def _json_answer(pushed: Pushed) -> tuple[int, RawHeaders, bytes]:
    body = created(pushed).model_dump_json().encode()
    return 201, JSON + REPLAYED if pushed.replayed else JSON, body


POSTS = {
    "/message": _Post("/message", _form_text, _form_answer),
    "/api/messages": _Post("/api/messages", _json_text, _json_answer),
}


async def _body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body and True; or what was read and False, when the client went away first or the
    body grew past `limit` (the full stack then answers as it would have: 413, or nothing)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _replay(body: bytes, whole: bool, receive: Receive) -> Receive:
    """What was read of the body, given again to the full stack; then the connection's own."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": not whole}
        return await receive()

    return again

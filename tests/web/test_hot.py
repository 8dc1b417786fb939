"""web/hot.py: the busiest requests in their usual shape answered by one layer, everything else
by the full stack, and the same answer either way."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from sentinel_board.config import RateLimit, Settings
from sentinel_board.web.security import HEADERS
from tests.helpers import app_client


class Reached:
    """ASGI middleware right behind the hot layer: the requests the full stack was given."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(f"{scope['method']} {scope['path']}")
        await self.app(scope, receive, send)


@asynccontextmanager
async def board(settings: Settings, seen: list[str]) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, inner=[Middleware(Reached, seen=seen)]) as client:
        yield client


def _chunks(body: bytes) -> Callable[[], AsyncIterator[bytes]]:
    """A body sent chunked, with no Content-Length: not the usual shape."""

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    return chunks


URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_the_usual_requests_never_reach_the_full_stack(settings: Settings) -> None:
    seen: list[str] = []
    async with board(settings, seen) as client:
        answers = [
            await client.get("/messages"),
            await client.get("/unread-list/size"),
            await client.post("/message", data={"message": "by form"}),
            await client.post("/api/messages", json={"message": "by API"}),
            await client.post(
                "/api/messages", json={"message": "k"}, headers={"Idempotency-Key": "1"}
            ),
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 201, 201]
    assert seen == []


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "options", "status", "says"),
    [
        ("HEAD", "/unread-list/size", {}, 200, ""),
        ("GET", "/messages?offset=0", {}, 200, "Unread"),
        ("POST", "/message", {"files": {"message": ("m.txt", b"a file")}}, 422, "not a file"),
        ("POST", "/message", {"content": _chunks(b"message=chunked")(), "headers": URLENCODED},
         200, "1</strong> unread"),
        ("POST", "/message", {"data": {"message": "x"}, "headers": {"Origin": "http://evil"}},
         403, "cross-site request refused"),
        ("POST", "/message", {"data": {"text": "no message field"}}, 422, "message: the field"),
        ("POST", "/api/messages", {"json": {"message": "stored", "note": "another field"}},
         201, '"message":"stored"'),
        ("POST", "/api/messages", {"json": {"message": 7}}, 422, "message: Input should be"),
        ("POST", "/api/messages", {"content": b"{not json", "headers": JSON}, 422, "JSON"),
        ("POST", "/api/messages", {"data": {"message": "a form"}}, 415, "application/json"),
    ],
    ids=["HEAD count", "page with a query", "multipart", "chunked", "cross-site", "no field",
         "other field", "not a string", "invalid JSON", "not JSON"],
)  # fmt: skip
async def test_anything_else_goes_on_to_the_full_stack_with_its_body(
    settings: Settings,
    method: str,
    path: str,
    options: dict[str, object],
    status: int,
    says: str,
) -> None:
    """Bodies the hot layer read first reach the full stack whole: it stores what they say,
    or names what is wrong in them."""
    seen: list[str] = []
    async with board(settings, seen) as client:
        answer = await client.request(method, path, **options)  # type: ignore[arg-type]
    assert seen == [f"{method} {path.partition('?')[0]}"]
    assert (answer.status_code, says in answer.text) == (status, True), answer.text


def _answer(response: httpx.Response) -> tuple[int, str, str, dict[str, str]]:
    """What a client sees, but the ids and times each new message gets."""
    body = re.sub(r'"(id|created_at)":"?[^,"}]+"?', r'"\1":-', response.text)
    body = re.sub(r'<code class="id">\w+</code>.*?</time>', "-", body)
    kept = {"content-type", "retry-after", "idempotent-replayed", *map(str.lower, HEADERS)}
    return response.status_code, body, response.reason_phrase, {
        name: value for name, value in response.headers.items() if name in kept
    }  # fmt: skip


# Each a series of requests; the hot layer answers them in the first run, the full stack
# (the same requests, sent chunked or with a field the hot layer leaves to it) in the second.
Request = tuple[str, str, str | None, dict[str, str]]  # method, path, form body, headers
SERIES: dict[str, list[Request]] = {
    "count": [("GET", "/unread-list/size", None, {})],
    "page": [
        ("POST", "/message", "message=shown", {}),
        ("GET", "/messages", None, {}),  # <- moved to READ by this view
        ("GET", "/messages", None, {}),
    ],
    "form post": [("POST", "/message", "message=hello", {})],
    "blank": [("POST", "/message", "message=%20%20", {})],
    "control": [("POST", "/message", "message=a%01b", {})],
    "too long": [("POST", "/message", "message=" + "x" * 1001, {})],
    "bad key": [("POST", "/message", "message=m", {"Idempotency-Key": "a key with\ttab"})],
    "key reused": [
        ("POST", "/message", "message=first", {"Idempotency-Key": "same"}),
        ("POST", "/message", "message=first", {"Idempotency-Key": "same"}),
        ("POST", "/message", "message=other", {"Idempotency-Key": "same"}),
    ],
}


async def _run(
    client: httpx.AsyncClient, series: list[Request], hot: bool
) -> list[tuple[int, str, str, dict[str, str]]]:
    answers = []
    for method, path, body, headers in series:
        if body is None:  # the full stack's: the same page, asked with a query
            path = path if hot or path != "/messages" else path + "?offset=0"
            response = await client.request(method, path, headers=headers)
        else:
            content = body.encode() if hot else _chunks(body.encode())()
            response = await client.request(method, path, content=content,
                                            headers={**URLENCODED, **headers})  # fmt: skip
        answers.append(_answer(response))
    return answers


@pytest.mark.parametrize("name", SERIES)
async def test_the_hot_layer_answers_as_the_full_stack_does(settings: Settings, name: str) -> None:
    """Each run on lists of its own (a key prefix of its own), as a new board would start."""
    series = SERIES[name]
    seen: list[str] = []
    async with board(settings, seen) as client:
        hot = await _run(client, series, hot=True)
    assert seen == []
    assert all(set(map(str.lower, HEADERS)) <= set(answer[3]) for answer in hot)
    if name == "count":
        return  # no way but the hot layer's for a plain GET of the count
    again = settings.model_copy(update={"key_prefix": settings.key_prefix + "full:"})
    async with board(again, seen) as client:
        full = await _run(client, series, hot=False)
    assert len(seen) == len(series)
    assert full == hot


async def test_json_posts_answer_alike_on_both_paths_errors_included(settings: Settings) -> None:
    seen: list[str] = []
    async with board(settings, seen) as client:
        for text in ("", "  ", "x" * 1001, "ok"):
            await client.post("/messages/flush")
            hot = _answer(await client.post("/api/messages", json={"message": text}))
            await client.post("/messages/flush")
            full = _answer(await client.post("/api/messages", json={"message": text, "n": 1}))
            assert full == hot, text


async def test_a_post_over_the_rate_limit_is_429_on_the_hot_layer(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit": RateLimit(2, 60)})
    seen: list[str] = []
    async with board(limited, seen) as client:
        answers = [await client.post("/message", data={"message": f"m{n}"}) for n in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].text.startswith("rate limited:")
    assert seen == []

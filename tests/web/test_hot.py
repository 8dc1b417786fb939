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
from sentinel_board.topology.ports import free_port
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
async def board(
    settings: Settings, seen: list[str], *, hot: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    inner = [Middleware(Reached, seen=seen)]
    async with app_client(settings, hot=hot, inner=inner) as client:
        yield client


def _chunks(body: bytes) -> Callable[[], AsyncIterator[bytes]]:
    """A body sent chunked, with no Content-Length: not the usual shape."""

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    return chunks


URLENCODED = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


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


@pytest.mark.parametrize(
    ("method", "path", "options", "status", "says"),
    [
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
        ("POST", "/api/messages", {"content": b"[" * 60000, "headers": JSON}, 400, "parsing"),
        ("POST", "/api/messages", {"data": {"message": "a form"}}, 415, "application/json"),
    ],
    ids=["page with a query", "multipart", "chunked", "cross-site", "no field", "other field",
         "not a string", "invalid JSON", "nested too deep", "not JSON"],
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


async def test_a_head_of_the_count_is_the_full_stacks(settings: Settings) -> None:
    seen: list[str] = []
    async with board(settings, seen) as client:
        answer = await client.head("/unread-list/size")
    assert seen == ["HEAD /unread-list/size"]
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["content-type"] == "text/html; charset=utf-8"


def _answer(response: httpx.Response) -> tuple[int, str, dict[str, str]]:
    """What a client sees, but the ids and times each new message gets, and how many seconds
    a refusal says to wait (the time left when it was made: `N` stands for a whole number)."""
    body = re.sub(r'"(id|created_at)":"?[^,"}]+"?', r'"\1":-', response.text)
    body = re.sub(r'<code class="id">\w+</code>.*?</time>', "-", body)
    body = re.sub(r"Retry in \d+ s\.", "Retry in N s.", body)
    kept = {"content-type", "content-length", "retry-after", "idempotent-replayed",
            *map(str.lower, HEADERS)}  # fmt: skip
    headers = {k: v for k, v in response.headers.items() if k in kept}
    if "retry-after" in headers:
        assert int(headers.pop("retry-after")) >= 1
        headers["retry-after"] = "N"
        headers.pop("content-length")  # it counts the seconds' digits
    return response.status_code, body, headers


Request = tuple[str, str, dict[str, object]]  # method, path, httpx options
SERIES: dict[str, list[Request]] = {
    "count": [("GET", "/unread-list/size", {})],
    "page": [
        ("POST", "/message", {"data": {"message": "shown"}}),
        ("GET", "/messages", {}),  # <- moved to READ by this view
        ("GET", "/messages", {}),
    ],
    "form posts": [
        ("POST", "/message", {"data": {"message": "hello"}}),
        ("POST", "/message", {"data": {"message": "  "}}),
        ("POST", "/message", {"data": {"message": "a\x01b"}}),
        ("POST", "/message", {"data": {"message": "x" * 1001}}),
        ("POST", "/message", {"data": {"message": "m"}, "headers": {"Idempotency-Key": "a\tb"}}),
        ("POST", "/message", {"data": {"message": "one"}, "headers": {"Idempotency-Key": "k"}}),
        ("POST", "/message", {"data": {"message": "one"}, "headers": {"Idempotency-Key": "k"}}),
        ("POST", "/message", {"data": {"message": "two"}, "headers": {"Idempotency-Key": "k"}}),
    ],
    "JSON posts": [
        ("POST", "/api/messages", {"json": {"message": "héllo ☃ \u2028 </script>"}}),
        ("POST", "/api/messages", {"json": {"message": ""}}),
        ("POST", "/api/messages", {"json": {"message": "x" * 1001}}),
        (
            "POST",
            "/api/messages",
            {"json": {"message": "one"}, "headers": {"Idempotency-Key": "k"}},
        ),
        (
            "POST",
            "/api/messages",
            {"json": {"message": "one"}, "headers": {"Idempotency-Key": "k"}},
        ),
        (
            "POST",
            "/api/messages",
            {"json": {"message": "two"}, "headers": {"Idempotency-Key": "k"}},
        ),
    ],
}


async def _both(
    settings: Settings, series: list[Request]
) -> tuple[list[tuple[int, str, dict[str, str]]], ...]:
    """The same requests to the app with the hot layer and without it, each on lists of its
    own (a key prefix of its own), as a new board would start; their metrics too."""
    runs = []
    for hot in (True, False):
        seen: list[str] = []
        own = settings.model_copy(update={"key_prefix": f"{settings.key_prefix}{hot}:"})
        async with board(own, seen, hot=hot) as client:
            answers = [
                _answer(await client.request(method, path, **options))  # type: ignore[arg-type]
                for method, path, options in series
            ]
            assert len(seen) == (0 if hot else len(series)), seen
            metrics = (await client.get("/metrics")).text
        counted = sorted(re.findall(r"^sentinel_board_http_requests_total\{.*", metrics, re.M))
        runs.append((answers, counted))
    (hot_answers, hot_counted), (full_answers, full_counted) = runs
    assert hot_counted == full_counted
    return hot_answers, full_answers


@pytest.mark.parametrize("name", SERIES)
async def test_the_hot_layer_answers_as_the_full_stack_does(settings: Settings, name: str) -> None:
    hot, full = await _both(settings, SERIES[name])
    assert hot == full
    assert all(set(map(str.lower, HEADERS)) <= set(answer[2]) for answer in hot)


async def test_over_the_rate_limit_both_answer_429_alike(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit": RateLimit(2, 60)})
    series: list[Request] = [("POST", "/message", {"data": {"message": f"m{n}"}}) for n in range(3)]
    hot, full = await _both(limited, series)
    assert hot == full
    assert [status for status, *_ in hot] == [200, 200, 429]
    assert hot[2][1].startswith("rate limited:") and hot[2][2]["retry-after"] == "N"


async def test_without_a_master_both_answer_503_alike() -> None:
    nowhere = Settings(sentinels=[("127.0.0.1", free_port())], failover_deadline=0.2)
    series: list[Request] = [
        ("GET", "/unread-list/size", {}),
        ("GET", "/messages", {}),
        ("POST", "/message", {"data": {"message": "lost?"}}),
        ("POST", "/api/messages", {"json": {"message": "lost?"}}),
    ]
    hot, full = await _both(nowhere, series)
    # The reasons name the sentinel that did not answer, the same in both.
    assert hot == full
    assert [status for status, *_ in hot] == [503] * 4
    assert all(answer[2]["retry-after"] == "N" for answer in hot)

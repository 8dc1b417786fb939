from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from sentinel_board.config import Settings
from sentinel_board.ha.retry import retry_after
from sentinel_board.topology.ports import free_port
from tests.helpers import app_client


@pytest.fixture
async def no_redis_client() -> AsyncIterator[httpx.AsyncClient]:
    """The app pointed at sentinels that are not there."""
    settings = Settings(
        sentinels=[("127.0.0.1", free_port()), ("127.0.0.1", free_port())],
        failover_deadline=0.3,
    )
    async with app_client(settings) as client:
        yield client


async def test_api_answers_503_with_retry_after_and_a_plain_reason(
    no_redis_client: httpx.AsyncClient,
) -> None:
    response = await no_redis_client.post("/api/messages", json={"message": "lost?"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    detail = response.json()["detail"]
    assert detail.startswith("Redis is unavailable: only 0 of 2 sentinels answer")
    assert "sentinel 127.0.0.1:" in detail and "ConnectionError" in detail
    assert "Traceback" not in detail


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/unread-list/size"), ("GET", "/messages"), ("POST", "/messages/flush")],
)
async def test_pages_answer_503_in_plain_text(
    no_redis_client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await no_redis_client.request(method, path)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith("Redis is unavailable:")
    assert "retry-after" in response.headers


async def test_form_post_answers_503_too(no_redis_client: httpx.AsyncClient) -> None:
    response = await no_redis_client.post("/message", data={"message": "x"})
    assert response.status_code == 503
    assert "Retry in" in response.text


async def test_unknown_route_is_404_not_a_traceback(no_redis_client: httpx.AsyncClient) -> None:
    response = await no_redis_client.get("/nope")
    assert response.status_code == 404
    assert response.text == "Not Found"


async def test_retry_after_past_the_deadline_is_what_the_readme_says(settings: Settings) -> None:
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    said = "`Retry-After` is a fifth of the failover deadline, at least 1 s (2 s at the default 10"
    assert said in readme
    assert Settings.model_fields["failover_deadline"].default == 10
    assert (retry_after(10), retry_after(0.5), retry_after(30)) == (2, 1, 6)
    # No replica to confirm a write: retried until the deadline, then a 503 that says so.
    greedy = settings.model_copy(
        update={"min_replica_acks": 3, "ack_timeout_ms": 50, "failover_deadline": 0.5}
    )
    async with app_client(greedy) as client:
        response = await client.post("/api/messages", json={"message": "unconfirmed"})
    assert response.status_code == 503
    assert "within 0.5 s" in response.json()["detail"]
    assert response.headers["retry-after"] == str(retry_after(0.5))


async def test_a_master_out_of_memory_is_503_saying_so(
    client: httpx.AsyncClient, master: Redis
) -> None:
    """OOM (maxmemory reached under noeviction) is no failover: it was a 500 with a
    traceback, on posts and /readyz alike. Now a 503 with Retry-After and the reason, at once.
    The shared master's memory settings are restored after."""
    before = await master.config_get("maxmemory*")
    await master.config_set("maxmemory-policy", "noeviction")
    await master.config_set("maxmemory", 1)
    try:
        response = await client.post("/api/messages", json={"message": "no room"})
        ready = await client.get("/readyz")
    finally:
        await master.config_set("maxmemory", str(before["maxmemory"]))
        await master.config_set("maxmemory-policy", str(before["maxmemory-policy"]))
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert detail.startswith("Redis refuses the request: master "), detail
    assert "out of memory" in detail and "Traceback" not in detail
    assert int(response.headers["retry-after"]) >= 1
    assert ready.status_code == 503 and "out of memory" in ready.json()["reason"], ready.text
    assert (await client.post("/api/messages", json={"message": "room again"})).status_code == 201

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from sentinel_board.config import Settings
from sentinel_board.keys import Keys
from sentinel_board.messages import Message
from sentinel_board.web import api


async def test_create_returns_201_with_the_message_and_count(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/messages", json={"message": "hello"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "message", "created_at", "unread_count"}
    assert (body["message"], body["unread_count"]) == ("hello", 1)
    assert "idempotent-replayed" not in response.headers


async def test_idempotency_key_replays_the_first_result(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "2b1e9a4c-0d5e-4b8e-9a51-7a3f6f0c1d22"}
    first = await client.post("/api/messages", json={"message": "once"}, headers=headers)
    await client.post("/api/messages", json={"message": "between"})
    again = await client.post("/api/messages", json={"message": "once"}, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await client.get("/api/unread-list/size")).json() == {"size": 2}


async def test_idempotency_key_reused_for_another_message_is_409(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Idempotency-Key": "k"}
    await client.post("/api/messages", json={"message": "one"}, headers=headers)
    response = await client.post("/api/messages", json={"message": "two"}, headers=headers)
    assert response.status_code == 409
    assert response.json() == {"detail": "Idempotency-Key: already used for a different message"}


@pytest.mark.parametrize("key", [b"", b"x" * 201, "naïve".encode("latin-1"), b"tab\there"])
async def test_bad_idempotency_key_is_422(client: httpx.AsyncClient, key: bytes) -> None:
    response = await client.post(
        "/api/messages", json={"message": "m"}, headers={b"Idempotency-Key": key}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Idempotency-Key: must be")


async def test_list_messages_with_limit_and_totals(client: httpx.AsyncClient) -> None:
    for text in "abc":
        await client.post("/api/messages", json={"message": text})
    assert (await client.post("/api/messages/flush")).json() == {"moved": 3}
    await client.post("/api/messages", json={"message": "d"})
    body = (await client.get("/api/messages", params={"limit": 2})).json()
    assert [m["message"] for m in body["read"]] == ["b", "c"]
    assert [m["message"] for m in body["unread"]] == ["d"]
    assert (body["unread_total"], body["read_total"]) == (1, 3)


async def test_the_list_is_byte_for_byte_the_page_model_s_json(
    client: httpx.AsyncClient, settings: Settings, master: Redis
) -> None:
    keys = Keys(settings.key_prefix)
    for text in ["plain", "\ud55c\uad6d\uc5b4 \u2713", '"quotes" \\ back', "line\nbreak\ttab"]:
        await client.post("/api/messages", json={"message": text})
    await client.post("/api/messages/flush")
    await client.post("/api/messages", json={"message": "</script> & <b>"})
    await master.rpush(keys.unread, "not json")  # not written by us: shown as it is
    for query in ({}, {"limit": 2}, {"offset": 1}):
        response = await client.get("/api/messages", params=query)
        assert response.headers["content-type"] == "application/json"
        limit, offset = query.get("limit", settings.page_limit), query.get("offset", 0)
        start, stop = -(offset + limit), -(offset + 1)
        unread = await master.lrange(keys.unread, start, stop)
        read = await master.lrange(keys.read, start, stop)
        expected = api.MessagePage(
            unread=[api._out(Message.from_json(m)) for m in unread],
            read=[api._out(Message.from_json(m)) for m in read],
            unread_total=await master.llen(keys.unread),
            read_total=await master.llen(keys.read),
        )
        assert response.content == expected.model_dump_json().encode(), query
    schema = (await client.get("/openapi.json")).json()
    listed = schema["paths"]["/api/messages"]["get"]["responses"]["200"]["content"]
    assert listed["application/json"]["schema"] == {"$ref": "#/components/schemas/MessagePage"}


async def test_unread_size(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/unread-list/size")).json() == {"size": 0}
    await client.post("/api/messages", json={"message": "x"})
    assert (await client.get("/api/unread-list/size")).json() == {"size": 1}


async def test_flush_twice_moves_then_nothing(client: httpx.AsyncClient) -> None:
    await client.post("/api/messages", json={"message": "x"})
    assert (await client.post("/api/messages/flush")).json() == {"moved": 1}
    assert (await client.post("/api/messages/flush")).json() == {"moved": 0}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "message: the field is required"),  # the form's words
        ({"message": 5}, "message: Input should be a valid string"),
        ({"message": "   "}, "message: must not be empty or blank"),
        ({"message": "y" * 1001}, "message: 1001 characters is over the limit of 1000"),
    ],
)
async def test_bad_json_input_is_a_clear_422(
    client: httpx.AsyncClient, body: dict[str, object], expected: str
) -> None:
    response = await client.post("/api/messages", json=body)
    assert response.status_code == 422
    assert response.json() == {"detail": expected}


async def test_a_control_character_is_refused_saying_what_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.post("/api/messages", json={"message": "bell\x07"})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("message: character U+0007 at 5 is refused")
    assert "but newline, carriage return and tab" in detail
    for accepted in ("line\nnext", "line\r\nnext", "tab\there", "cr\ralone"):
        assert (await client.post("/api/messages", json={"message": accepted})).status_code == 201


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        (
            {"content-type": "application/x-www-form-urlencoded"},
            "application/x-www-form-urlencoded",
        ),
        ({"content-type": "text/plain; charset=utf-8"}, "text/plain"),
    ],
)
async def test_a_body_that_is_not_json_is_415_naming_its_type(
    client: httpx.AsyncClient, headers: dict[str, str], named: str
) -> None:
    response = await client.post("/api/messages", content=b"message=hello", headers=headers)
    assert response.status_code == 415
    assert response.json() == {
        "detail": f"the body must be JSON (Content-Type: application/json), not {named}"
    }
    as_form = await client.post("/api/messages", data={"message": "hello"})
    assert as_form.status_code == 415
    with_charset = {"content-type": "application/json; charset=utf-8"}
    ok = await client.post("/api/messages", content=b'{"message": "x"}', headers=with_charset)
    assert ok.status_code == 201
    untyped = await client.post("/api/messages", content=b'{"message": "x"}')
    assert untyped.status_code == 415
    assert untyped.json()["detail"].endswith("and the request has no Content-Type")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/messages", "GET, POST"),
        ("PUT", "/api/messages", "GET, POST"),
        ("GET", "/api/messages/flush", "POST"),
        ("GET", "/message", "POST"),
        ("POST", "/unread-list/size", "GET, HEAD"),
    ],
)
async def test_405_allows_every_method_the_path_takes(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/messages", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON decode error" in response.json()["detail"]


async def test_list_messages_pages_back_with_offset(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post("/api/messages", json={"message": f"api-page-{i}"})
    body = (await client.get("/api/messages", params={"limit": 2, "offset": 1})).json()
    assert [m["message"] for m in body["unread"]] == ["api-page-2", "api-page-3"]
    assert body["unread_total"] == 5
    for offset in (-1, 2**32 + 1, 10**21):  # past a list's largest size: LRANGE would overflow
        refused = await client.get("/api/messages", params={"offset": offset})
        assert refused.status_code == 422 and "offset" in refused.json()["detail"]
    assert (await client.get("/messages", params={"offset": 10**21})).status_code == 422
    beyond = (await client.get("/api/messages", params={"offset": 2**32})).json()
    assert beyond["unread"] == beyond["read"] == [] and beyond["unread_total"] == 5


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "many"])
async def test_bad_limit_is_422(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get("/api/messages", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("limit: ")


async def test_a_body_over_64_kib_is_413_announced_or_streamed(client: httpx.AsyncClient) -> None:
    big = b'{"message": "' + b"x" * (64 * 1024) + b'"}'
    response = await client.post(
        "/api/messages", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than 65536 bytes"}

    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(70):
            yield b"x" * 1024

    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await client.post("/message", content=chunks(), headers=form)
    assert response.status_code == 413
    assert response.text == "request body is larger than 65536 bytes"
    assert (await client.get("/api/unread-list/size")).json() == {"size": 0}


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]) == {
        "/api/messages",
        "/api/unread-list/size",
        "/api/messages/flush",
        "/api/status",
        "/api/events",
        "/healthz",
        "/readyz",
    }
    assert "Idempotency-Key" in str(schema["paths"]["/api/messages"]["post"]["parameters"])
    assert (await client.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    "extra",
    [{}, {"note": "a field the model ignores: the declared route answers"}],
    ids=["hot layer", "declared route"],
)
async def test_both_paths_of_a_post_answer_alike(
    client: httpx.AsyncClient, extra: dict[str, str]
) -> None:
    """web/hot.py serves {"message": ...} alone; anything else, the declared route:
    the same answer, the same replay, the same refusal of a reused key."""
    key = {"Idempotency-Key": f"alike-{len(extra)}"}
    first = await client.post("/api/messages", json={"message": "alike", **extra}, headers=key)
    again = await client.post("/api/messages", json={"message": "alike", **extra}, headers=key)
    other = await client.post("/api/messages", json={"message": "other", **extra}, headers=key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 409)
    assert again.json() == first.json() and set(first.json()) == {
        "id", "message", "created_at", "unread_count"
    }  # fmt: skip
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert first.headers["content-type"] == "application/json"

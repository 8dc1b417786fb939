from __future__ import annotations

import re
from collections.abc import AsyncGenerator

import httpx
import pytest
from starlette.datastructures import Headers
from starlette.formparsers import FormParser

from sentinel_board.config import Settings
from sentinel_board.web import routes
from sentinel_board.web.routes import URLENCODED
from tests.helpers import app_client


async def count_in(response: httpx.Response) -> int:
    match = re.search(r'data-unread="(\d+)"', response.text)
    assert match, response.text
    return int(match.group(1))


async def test_index_shows_the_count_the_form_and_the_master(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert await count_in(response) == 0
    assert '<form id="post-form" method="post" action="/message">' in response.text
    assert "Writing to master <code>127.0.0.1:" in response.text
    assert '<script src="/static/board.js" defer></script>' in response.text


async def test_the_count_reads_as_english_and_the_index_shows_the_same_fragment(
    client: httpx.AsyncClient,
) -> None:
    fragments = []
    for _ in range(2):
        fragments.append((await client.get("/unread-list/size")).text)
        await client.post("/message", data={"message": "one more"})
    fragments.append((await client.get("/unread-list/size")).text)
    assert [re.sub(r"<[^>]+>", "", f) for f in fragments] == [
        "0 unread messages",
        "1 unread message",
        "2 unread messages",
    ]
    index = (await client.get("/")).text
    assert f'<div id="count" aria-live="polite">{fragments[-1]}</div>' in index


async def test_post_message_urlencoded_returns_the_count_fragment(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/message", data={"message": "hi"})
    assert response.status_code == 200
    assert response.text.startswith('<p class="count"')
    assert await count_in(response) == 1


async def test_post_message_multipart_is_read_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/message", files={"message": (None, "multi ✓")})
    assert response.status_code == 200
    assert await count_in(response) == 1
    page = (await client.get("/api/messages")).json()
    assert [m["message"] for m in page["unread"]] == ["multi ✓"]


async def test_post_message_with_a_key_is_stored_once(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        response = await client.post(
            "/message", data={"message": "once"}, headers={"Idempotency-Key": "form-1"}
        )
        assert await count_in(response) == 1


async def test_the_form_refuses_a_key_reused_for_another_message_as_the_api_does(
    client: httpx.AsyncClient,
) -> None:
    """One path for a post: the form and the API answer a reused key alike, whichever came
    first."""
    key = {"Idempotency-Key": "form-and-api"}
    await client.post("/message", data={"message": "first"}, headers=key)
    form = await client.post("/message", data={"message": "other"}, headers=key)
    api = await client.post("/api/messages", json={"message": "other"}, headers=key)
    assert (form.status_code, api.status_code) == (409, 409)
    assert form.text == "Idempotency-Key: already used for a different message"
    assert api.json() == {"detail": form.text}
    assert (await client.get("/api/unread-list/size")).json() == {"size": 1}


async def test_unread_size_fragment(client: httpx.AsyncClient) -> None:
    await client.post("/message", data={"message": "a"})
    await client.post("/message", data={"message": "b"})
    response = await client.get("/unread-list/size")
    assert response.status_code == 200
    assert await count_in(response) == 2
    assert "2</strong> unread messages" in response.text


async def test_messages_page_lists_unread_left_and_read_right_then_flush(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/message", data={"message": "first"})
    await client.post("/messages/flush")
    await client.post("/message", data={"message": "second"})

    page = (await client.get("/messages")).text
    unread_part, read_part = page.split('class="column read"')
    assert "second" in unread_part and "first" not in unread_part
    assert "first" in read_part and "second" not in read_part
    assert '<script src="/static/messages.js" defer></script>' in page

    flushed = await client.post("/messages/flush")
    assert flushed.status_code == 204
    page = (await client.get("/messages")).text
    unread_part, read_part = page.split('class="column read"')
    assert "Nothing unread." in unread_part
    assert read_part.index("first") < read_part.index("second")


async def test_each_message_shows_its_id(client: httpx.AsyncClient) -> None:
    await client.post("/message", data={"message": "x"})
    [message] = (await client.get("/api/messages")).json()["unread"]
    assert f'<code class="id">{message["id"]}</code>' in (await client.get("/messages")).text


async def test_markup_is_shown_as_text(client: httpx.AsyncClient) -> None:
    await client.post("/message", data={"message": "<script>alert(1)</script>"})
    page = (await client.get("/messages")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "message: the field is required"),
        ({"message": ""}, "message: must not be empty or blank"),
        ({"message": " \n\t "}, "message: must not be empty or blank"),
        ({"message": "x" * 1001}, "message: 1001 characters is over the limit of 1000"),
    ],
)
async def test_bad_form_input_is_a_clear_422(
    client: httpx.AsyncClient, data: dict[str, str], expected: str
) -> None:
    response = await client.post("/message", data=data)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == expected
    assert await count_in(await client.get("/unread-list/size")) == 0


URLENCODED_BODIES = [
    b"message=a+b%20c%E2%9C%93",
    b"message=first&message=last",
    b"other=1&message=%F0%9F%98%80&x",
    b"message=caf\xc3\xa9",  # raw UTF-8, not escaped: read as Latin-1, as Starlette does
    b"message=bad%FFescape",
    b"message=%3Cb%3E%26amp%3B&",
]


@pytest.mark.parametrize("body", URLENCODED_BODIES)
async def test_a_urlencoded_form_is_read_exactly_as_starlette_reads_it(
    client: httpx.AsyncClient, body: bytes
) -> None:
    async def one_chunk() -> AsyncGenerator[bytes, None]:
        yield body

    starlette_form = await FormParser(Headers({"content-type": URLENCODED}), one_chunk()).parse()
    response = await client.post("/message", content=body, headers={"content-type": URLENCODED})
    assert response.status_code == 200, response.text
    stored = (await client.get("/api/messages")).json()["unread"][-1]["message"]
    assert stored == starlette_form["message"]


async def test_a_form_of_too_many_fields_is_refused(client: httpx.AsyncClient) -> None:
    body = "&".join(f"f{n}=x" for n in range(1001)) + "&message=hi"
    response = await client.post("/message", content=body, headers={"content-type": URLENCODED})
    assert response.status_code == 400
    assert response.text == "more than 1000 form fields"
    assert await count_in(await client.get("/unread-list/size")) == 0


async def test_a_message_of_exactly_the_limit_is_taken(client: httpx.AsyncClient) -> None:
    response = await client.post("/message", data={"message": "é" * 1000})
    assert response.status_code == 200


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    for name in ("style.css", "board.js", "messages.js", "favicon.svg"):
        assert (await client.get(f"/static/{name}")).status_code == 200


async def test_the_messages_page_pages_back_through_read(settings: Settings) -> None:
    small = settings.model_copy(update={"page_limit": 2})
    async with app_client(small) as client:
        for i in range(5):
            await client.post("/api/messages", json={"message": f"page-{i}"})
        await client.post("/api/messages/flush")
        newest = (await client.get("/messages")).text
        assert "4\u20135 of 5" in newest and 'href="/messages?offset=2">older' in newest
        assert "page-4" in newest and "page-2" not in newest
        middle = (await client.get("/messages", params={"offset": 2})).text
        assert "2\u20133 of 5" in middle and "page-2" in middle and "page-4" not in middle
        assert 'href="/messages?offset=4">older' in middle
        assert 'href="/messages?offset=0">newer' in middle
        oldest = (await client.get("/messages", params={"offset": 4})).text
        assert "1\u20131 of 5" in oldest and ">older<" not in oldest


async def test_a_stored_message_is_rendered_once_whatever_the_views(
    client: httpx.AsyncClient,
) -> None:
    posted = await client.post("/api/messages", json={"message": "<b>rendered once</b>"})
    assert posted.status_code == 201
    routes._message_html.cache_clear()
    first = (await client.get("/messages")).text
    made = routes._message_html.cache_info()
    again = (await client.get("/messages")).text
    after = routes._message_html.cache_info()
    assert first == again and "&lt;b&gt;rendered once&lt;/b&gt;" in again
    assert after.misses == made.misses, "the second view rendered nothing anew"
    assert after.hits - made.hits == made.misses >= 1

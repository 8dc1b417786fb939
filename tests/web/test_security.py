from __future__ import annotations

import httpx
import pytest

from sentinel_board.config import RateLimit, Settings
from tests.helpers import app_client

FORM = {"message": "from a form"}


async def unread(client: httpx.AsyncClient) -> int:
    return int((await client.get("/api/unread-list/size")).json()["size"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://board:8080"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
@pytest.mark.parametrize("path", ["/message", "/messages/flush", "/api/messages"])
async def test_a_cross_site_write_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> None:
    await client.post("/api/messages", json={"message": "stays unread"})
    before = await unread(client)
    response = await client.post(path, data=FORM, headers=headers)
    assert response.status_code == 403
    assert "cross-site request refused" in response.text
    assert await unread(client) == before


async def test_a_same_site_post_and_a_non_browser_client_are_served(
    client: httpx.AsyncClient,
) -> None:
    same = await client.post("/message", data=FORM, headers={"Origin": "http://board"})
    assert same.status_code == 200
    fetched = await client.post("/message", data=FORM, headers={"Sec-Fetch-Site": "same-origin"})
    assert fetched.status_code == 200
    curl = await client.post("/message", data=FORM)  # neither header: not a browser
    assert curl.status_code == 200


@pytest.mark.parametrize("path", ["/", "/messages", "/status", "/docs", "/api/status", "/nope"])
async def test_every_answer_carries_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    headers = (await client.get(path)).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


async def test_the_api_reference_loads_nothing_from_elsewhere(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assert "<code>/api/messages</code>" in page and "Idempotency-Key" in page
    assert "cdn" not in page.lower() and "https://" not in page
    assert "<script>" not in page  # the CSP would refuse an inline script


@pytest.mark.parametrize(
    ("text", "where"),
    [("nul\x00byte", "U+0000 at 4"), ("\x1b[31mred", "U+001B at 1"), ("c1\x85", "U+0085 at 3")],
)
async def test_control_characters_are_refused_with_their_place(
    client: httpx.AsyncClient, text: str, where: str
) -> None:
    before = await unread(client)
    for response in (
        await client.post("/api/messages", json={"message": text}),
        await client.post("/message", data={"message": text}),
    ):
        assert response.status_code == 422
        assert f"character {where} is refused" in response.text
    assert await unread(client) == before


async def test_a_lone_surrogate_is_refused_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/messages",
        content=b'{"message": "half \\ud83d a pair"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "U+D83D at 6 is refused" in response.json()["detail"]


@pytest.mark.parametrize(
    "text",
    [
        "line one\nline two\ttabbed\r\nwindows line",
        "emoji 👩‍👩‍👧 and flags 🇰🇷",
        "עברית و العربية \u202eRTL override",
        "e\u0301 combining, \u200dzero width joiner, ﷽",
    ],
)
async def test_unicode_is_kept_exactly(client: httpx.AsyncClient, text: str) -> None:
    created = (await client.post("/api/messages", json={"message": text})).json()
    listed = (await client.get("/api/messages")).json()["unread"]
    assert [m["message"] for m in listed if m["id"] == created["id"]] == [text]


async def test_the_rate_limit_holds_across_app_instances(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit": RateLimit(3, 60)})
    async with app_client(limited) as first, app_client(limited) as second:
        statuses = [
            (await c.post("/api/messages", json={"message": f"post {i}"})).status_code
            for i, c in enumerate((first, first, second))
        ]
        assert statuses == [201, 201, 201]
        refused = await second.post("/api/messages", json={"message": "one too many"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "more than 3 posts in 60 s from this client" in refused.json()["detail"]
        form = await first.post("/message", data={"message": "by form"})
        assert form.status_code == 429 and form.text.startswith("rate limited")
        async with app_client(limited, peer="10.0.0.2") as elsewhere:
            other = await elsewhere.post("/api/messages", json={"message": "another client"})
            assert other.status_code == 201


async def test_a_retry_of_a_stored_post_is_not_rate_limited(settings: Settings) -> None:
    limited = settings.model_copy(update={"rate_limit": RateLimit(1, 60)})
    async with app_client(limited) as client:
        key = {"Idempotency-Key": "only-once"}
        first = await client.post("/api/messages", json={"message": "hi"}, headers=key)
        again = await client.post("/api/messages", json={"message": "hi"}, headers=key)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("text", ["0/minute", "ten/minute", "5/fortnight", "5", "5/0s"])
def test_a_bad_rate_limit_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="such as 30/minute"):
        Settings(rate_limit=text)


def test_rate_limits_parse() -> None:
    assert Settings(rate_limit="30/minute").rate_limit == RateLimit(30, 60)
    assert Settings(rate_limit="10/30s").rate_limit == RateLimit(10, 30)
    assert Settings(rate_limit="").rate_limit is None

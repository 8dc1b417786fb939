from __future__ import annotations

import functools
import time
from pathlib import Path
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.routing import Match, Route
from starlette.types import Scope

from sentinel_board.config import Settings
from sentinel_board.ha import RedisHA, SentinelEvent, format_address
from sentinel_board.ha.events import concerns
from sentinel_board.messages import Message
from sentinel_board.store import MessageStore
from sentinel_board.web.deps import AppSettings, Store, post_message
from sentinel_board.web.ops import app_status
from sentinel_board.web.validation import Offset, media_type


def _page_context(request: Request) -> dict[str, object]:
    """What every page shows of Sentinel as configuration provider."""
    settings: Settings = request.app.state.settings
    redis: RedisHA = request.app.state.redis
    master = redis.master_address
    return {
        "master": format_address(master) if master else None,
        "master_name": settings.master_name,
        "sentinels": [format_address(s) for s in settings.sentinels],
        "max_length": settings.max_message_length,
    }


templates = Jinja2Templates(
    directory=Path(__file__).parent / "templates", context_processors=[_page_context]
)
templates.env.auto_reload = False  # the profile: a stat() of the template file per render
router = APIRouter(include_in_schema=False)


def count_html(unread: int) -> str:
    """The count: the answer to `GET /unread-list/size` and to a post, and the index page's.
    The hottest fragment, made here rather than by a template: a render was 10% of a count,
    and, kept per count, still 6% of a post, each post making a new count. A count is an
    int (`:d` says so), so nothing in it needs escaping."""
    noun = "message" if unread == 1 else "messages"
    return (
        f'<p class="count" data-unread="{unread:d}"><strong>{unread:d}</strong> unread {noun}</p>'
    )


def _count(unread: int) -> HTMLResponse:
    return HTMLResponse(count_html(unread))


@functools.lru_cache(maxsize=4096)
def _message_html(stored: bytes) -> bytes:
    # A stored message never changes: it is parsed, rendered and encoded once, then kept
    # (about half a kilobyte each; 20 pages of both lists). Parsing and escaping each
    # message on every view were 58% of the messages page in the profile.
    html = templates.get_template("_message.html").render(m=Message.from_json(stored))
    return html.encode()  # rendered by an autoescaping template


# Where the messages page's lists go. The page is rendered around them, and each list's
# kept markup is put in its place as bytes: copying and encoding the two lists again, in
# each step of rendering a template, was a third of the page in the profile. The slots are
# found in the rendered page before anything goes in them, and nothing the page shows can
# hold one: it is escaped ("<" as "&lt;").
_SLOTS = {"unread": Markup("<!--unread-->"), "read": Markup("<!--read-->")}
_UNREAD_SLOT, _READ_SLOT = (slot.encode() for slot in _SLOTS.values())


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, store: Store) -> HTMLResponse:
    count = Markup(count_html(await store.unread_size()))
    return templates.TemplateResponse(request, "index.html", {"count": count})


URLENCODED = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 1000  # Starlette's own limit


def urlencoded_message(body: bytes) -> str | None:
    """An urlencoded form's `message` field, None when it has none; ValueError over
    MAX_FORM_FIELDS fields.

    The page's form and `curl -d` send it so: read as Starlette reads it (each field decoded
    as Latin-1, then its %-escapes as UTF-8), by the standard library's parser, as
    python-multipart's callbacks were 8% of a post in the profile.
    """
    fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True,
                       max_num_fields=MAX_FORM_FIELDS)  # fmt: skip
    return dict(fields).get("message")


async def _posted_message(request: Request) -> str | None:
    """The form's `message` field, None when the form has none. Any other body than an
    urlencoded one (multipart) goes through Starlette's form parsing."""
    if media_type(request.headers.get("content-type", "")) == URLENCODED:
        try:
            return urlencoded_message(await request.body())
        except ValueError:
            raise HTTPException(400, f"more than {MAX_FORM_FIELDS} form fields") from None
    async with request.form() as form:  # closes the temporary files of any uploads
        message = form.get("message")
    if not isinstance(message, str | None):
        raise HTTPException(422, "message: must be text, not a file")
    return message


async def create_message(request: Request) -> HTMLResponse:
    # Read by hand: a declared Form field would take an empty message for a missing one.
    text = await _posted_message(request)
    pushed = await post_message(request, text, request.headers.get("idempotency-key"))
    return _count(pushed.unread_count)


async def unread_size(request: Request) -> HTMLResponse:
    store: MessageStore = request.app.state.store
    return _count(await store.unread_size())


class FastRoute(Route):
    """A plain Starlette route that says it matched, as FastAPI's own do (scope["route"]):
    the metrics label requests by it, not as `unmatched`."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


# The two hottest routes, for the app's own router, ahead of the routers it includes: plain
# Starlette routes, matched first and with no parameters to solve. Their usual requests are
# answered before the stack by web/hot.py, through the same functions; these answer the rest
# (a HEAD, a multipart form, a chunked body). They are HTML fragments, not part of the API.
FAST_ROUTES = [
    FastRoute("/unread-list/size", unread_size, methods=["GET"], include_in_schema=False),
    FastRoute("/message", create_message, methods=["POST"], include_in_schema=False),
]


@router.get("/messages", response_class=HTMLResponse)
async def messages(
    request: Request, store: Store, settings: AppSettings, offset: Offset = 0
) -> HTMLResponse:
    group = await store.read_stored(settings.page_limit, offset)
    context = {"group": group, "offset": offset, "limit": settings.page_limit, **_SLOTS}
    page = templates.get_template("messages.html").render(
        {"request": request, **_page_context(request), **context}
    )
    parts, rest = [], page.encode()
    for slot, stored in ((_UNREAD_SLOT, group.unread), (_READ_SLOT, group.read)):
        before, found, after = rest.partition(slot)
        if found:  # a list with nothing to show has no slot
            parts += [before, *map(_message_html, stored)]
            rest = after
    return HTMLResponse(b"".join([*parts, rest]))


@router.post("/messages/flush", status_code=204)
async def flush(store: Store) -> Response:
    await store.flush()
    return Response(status_code=204)


BAD = ("+sdown", "+odown", "+tilt", "-failover-abort", "+failover-end-for-timeout", "no-good")
GOOD = ("-sdown", "-odown", "+switch-master", "+promoted-slave", "-tilt")


def _shown(event: SentinelEvent) -> dict[str, str]:
    tone = "bad" if event.type.startswith(BAD) else "good" if event.type in GOOD else ""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.received_at))
    millis = int(event.received_at % 1 * 1000)
    return {
        "type": event.type,
        "instance": concerns(event),
        "time": f"{stamp}.{millis:03d}",
        "tone": tone,
    }


async def _status_context(request: Request) -> dict[str, object]:
    redis: RedisHA = request.app.state.redis
    events = [_shown(event) for event in reversed(redis.recent_events)]
    return {"status": await app_status(request), "events": events}


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "status.html", await _status_context(request))


@router.get("/status/panel", response_class=HTMLResponse)
async def status_panel(request: Request) -> HTMLResponse:
    """The status page's live part, fetched again at each Sentinel event."""
    return templates.TemplateResponse(request, "_status.html", await _status_context(request))


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request) -> HTMLResponse:
    """The API's reference, from its OpenAPI schema, with nothing loaded from elsewhere."""
    context = {"spec": request.app.openapi(), "openapi_url": request.app.openapi_url}
    return templates.TemplateResponse(request, "docs.html", context)

"""What protects the board from other sites: same-origin writes and security headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentinel_board.web.errors import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Every script and style is a file the app serves: no inline code, no other origin.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])  # fmt: skip
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in HEADERS.items()]


def cross_site_reason(method: str, headers: Headers) -> str | None:
    """Why a state-changing request comes from another site, or None.

    Browsers send `Origin` (and `Sec-Fetch-Site`) with every cross-site POST; clients that
    send neither, such as curl, are not browsers a forged form could drive.
    """
    if method in SAFE_METHODS:
        return None
    if headers.get("sec-fetch-site") == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get("origin")
    if origin is None:
        return None
    if urlsplit(origin).netloc != headers.get("host"):
        return f"Origin {origin} is not this site"
    return None


class BrowserSecurity:
    """403 for a state-changing request from another site; security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message["headers"] = list(message.get("headers", ()))
                present = {name for name, _ in headers}
                headers.extend(pair for pair in RAW_HEADERS if pair[0] not in present)
            await send(message)

        safe = scope["method"] in SAFE_METHODS  # the common case: no headers to parse
        reason = None if safe else cross_site_reason(scope["method"], Headers(scope=scope))
        if reason is not None:
            detail = f"cross-site request refused ({reason}): post from the board's own pages"
            await error_response(scope["path"], 403, detail)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

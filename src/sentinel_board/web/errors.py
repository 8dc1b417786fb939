"""Error responses: one message, JSON under /api, plain text for the pages' own fetches."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match

from sentinel_board.web.validation import REQUIRED

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def error_response(
    path: str, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON under /api, plain text for the pages' own fetches: a message either way."""
    if path.startswith("/api/"):
        return JSONResponse({"detail": detail}, status, headers=headers)
    return PlainTextResponse(detail, status, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts) or "request"


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed(request)}
    return error_response(request.url.path, exc.status_code, str(exc.detail), headers)


def _allowed(request: Request) -> str:
    """Every method a route takes at this path: the route that answered 405 (the first that
    matched the path) names only its own, as POST for /api/messages, which GET takes too."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
               for route in routes)
    )  # fmt: skip


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = "; ".join(
        f"{_field(e['loc'])}: {REQUIRED if e['type'] == 'missing' else e['msg']}"
        for e in exc.errors()
    )
    return error_response(request.url.path, 422, detail)


def install_error_handlers(app: FastAPI) -> None:
    """HTTP's own errors and invalid requests; web/refusals.py answers the store's refusals."""
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RequestValidationError, _invalid)

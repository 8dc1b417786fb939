"""The store's and the HA layer's refusals as HTTP answers: 503 for want of a master (or a
master refusing commands for a condition of its own, such as OOM), 429 over the rate limit,
409 for an idempotency key reused with another message."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from sentinel_board.ha import CredentialsRefused, ServerRefused, Unavailable
from sentinel_board.messages import KeyReused
from sentinel_board.refusals import refused
from sentinel_board.store import RateLimited
from sentinel_board.web.errors import error_response


def refusal_response(path: str, exc: Exception) -> Response:
    """The answer to one of the refusals below, for a request to `path`."""
    if isinstance(exc, KeyReused):
        return error_response(path, 409, str(exc))
    assert isinstance(exc, Unavailable | RateLimited)
    if isinstance(exc, CredentialsRefused):
        status, what = 503, f"Redis is unavailable: {refused(exc)}"
    elif isinstance(exc, ServerRefused):
        status, what = 503, f"Redis refuses the request: {exc.reason}"
    elif isinstance(exc, Unavailable):
        status, what = 503, f"Redis is unavailable: {exc.reason}"
    else:
        status, what = 429, f"rate limited: {exc}"
    # 503 for want of a master, 429 over the rate limit: both say when to come back.
    retry = str(exc.retry_after)
    return error_response(path, status, f"{what}. Retry in {retry} s.", {"Retry-After": retry})


async def _refused(request: Request, exc: Exception) -> Response:
    return refusal_response(request.url.path, exc)


def install_refusal_handlers(app: FastAPI) -> None:
    for refusal in (Unavailable, RateLimited, KeyReused):
        app.add_exception_handler(refusal, _refused)

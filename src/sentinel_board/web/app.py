from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from sentinel_board import __version__
from sentinel_board.config import Settings
from sentinel_board.ha import CredentialsRefused, RedisHA, Unavailable
from sentinel_board.notify import Notifier
from sentinel_board.refusals import refused
from sentinel_board.store import MessageStore
from sentinel_board.web import api, ops, routes
from sentinel_board.web.errors import install_error_handlers
from sentinel_board.web.hot import HotRoutes
from sentinel_board.web.limits import BodySizeLimit
from sentinel_board.web.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from sentinel_board.web.refusals import install_refusal_handlers
from sentinel_board.web.security import BrowserSecurity

logger = logging.getLogger("sentinel_board.web")
HERE = Path(__file__).parent


class StartupRefused(Exception):
    """Redis refused the app's credentials: no request could ever be served."""


class Board(FastAPI):
    """The app: FastAPI, with the busiest requests in their usual shape answered ahead of
    everything FastAPI wraps around a request (web/hot.py); `hot` passes the rest on."""

    def __init__(self, *, max_body_bytes: int, **options: Any) -> None:
        super().__init__(**options)
        self.hot: ASGIApp = HotRoutes(super().__call__, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self  # as FastAPI's own __call__ does: the hot routes use its state
        await self.hot(scope, receive, send)


def create_app(settings: Settings | None = None, *, freeze_gc: bool = False) -> Board:
    """`freeze_gc`: for a server process, see below; never in a test process, where it
    would keep every later cycle of the objects alive at start-up from being collected."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = RedisHA(settings.ha_config())
        redis.start()
        metrics.watch(redis)
        app.state.redis = redis
        app.state.store = MessageStore(
            redis,
            key_prefix=settings.key_prefix,
            dedup_ttl=settings.dedup_ttl_seconds,
            rate_limit=settings.rate_limit,
        )
        try:
            await redis.read(lambda client: client.ping())
        except CredentialsRefused as error:
            await redis.aclose()
            raise StartupRefused(refused(error)) from None
        except Unavailable as error:
            # Not fatal: requests keep asking the sentinels until a master appears.
            logger.warning("no Redis master yet: %s", error.reason)
        notifier = app.state.notifier = Notifier(redis, settings) if settings.webhooks else None
        if notifier is not None:
            notifier.start()
        if freeze_gc:
            # What start-up made (routes, models, templates, clients) lives as long as the
            # app: full collections stop walking it. They were the bench's p99 (60 ms, now 15).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            try:
                if notifier is not None:
                    await notifier.aclose()
                await redis.aclose()
            finally:
                metrics.flush()  # this worker's last counts, for the workers that go on

    app = Board(
        max_body_bytes=settings.max_body_bytes,
        title="sentinel-board",
        version=__version__,
        summary="A message board on Redis with Sentinel high availability.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI from a CDN; /docs is ours
        redoc_url=None,
        # Prometheus /metrics is ours; FastAPI's OpenTelemetry checks cost 7% of a request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    metrics = app.state.metrics = Metrics()
    install_error_handlers(app)
    install_refusal_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(BrowserSecurity)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.router.routes.extend(routes.FAST_ROUTES)
    app.include_router(routes.router)
    app.include_router(api.router)
    app.include_router(ops.router)
    return app

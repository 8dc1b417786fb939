"""GET /metrics in Prometheus' format: requests, Redis round trips, failovers followed, and the
worker itself (its pid, memory, open files and asyncio tasks: what an endurance run watches)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentinel_board.ha import RedisHA, format_address

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One registry per app, so that two apps in one process (tests) count apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sentinel_board_http_requests", "HTTP requests answered.",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "sentinel_board_http_request_duration_seconds", "Time to answer a request.",
            ["method", "route"], registry=self.registry,
        )  # fmt: skip
        self.redis_latency = Histogram(
            "sentinel_board_redis_round_trip_seconds",
            "One attempt of a Redis operation on the master (a write includes its WAIT).",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        # process_resident_memory_bytes, process_open_fds, ...: of this worker (the one that
        # answers the scrape: with --workers N, one of them).
        ProcessCollector(registry=self.registry)
        self.registry.register(_WorkerCollector())

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        if (children := self._children.get(key)) is None:  # labels() takes a lock each call
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def watch(self, redis: RedisHA) -> None:
        redis.on_command = self.redis_latency.observe
        self.registry.register(_FailoverCollector(redis))

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)


class _FailoverCollector(Collector):
    def __init__(self, redis: RedisHA) -> None:
        self.redis = redis

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.redis.stats
        yield CounterMetricFamily(
            "sentinel_board_redis_retries", "Attempts retried while following a failover.",
            value=stats.retries,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sentinel_board_failovers_followed", "Times the board moved to a new master.",
            value=stats.failovers_followed,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sentinel_board_redis_unavailable", "Requests answered 503: no master in time.",
            value=stats.unavailable,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sentinel_board_redis_batches",
            "Pipelines sent: the commands of concurrent requests go out together.",
            value=stats.batches,
        )
        yield CounterMetricFamily(
            "sentinel_board_redis_batched_commands", "Commands sent in those pipelines.",
            value=stats.batched_commands,
        )  # fmt: skip
        master = GaugeMetricFamily(
            "sentinel_board_master", "The master the board writes to (1 for the current one).",
            labels=["address"],
        )  # fmt: skip
        if self.redis.master_address is not None:
            master.add_metric([format_address(self.redis.master_address)], 1)
        yield master


class _WorkerCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        worker = GaugeMetricFamily(
            "sentinel_board_worker", "The worker that answered (1), by its pid.", labels=["pid"]
        )
        worker.add_metric([str(os.getpid())], 1)
        yield worker
        yield GaugeMetricFamily(
            "sentinel_board_asyncio_tasks", "The worker's asyncio tasks now.",
            value=len(asyncio.all_tasks()),
        )  # fmt: skip


def _route(scope: Scope) -> str:
    """The route's template (/api/messages), never the raw path: labels stay few."""
    route = scope.get("route")  # set by the router on the scope it shares with us
    return str(getattr(route, "path", "unmatched"))


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["method"], _route(scope), status, elapsed)


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return metrics.render()

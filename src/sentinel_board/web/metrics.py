"""GET /metrics in Prometheus' format: requests, Redis round trips, failovers followed, and the
worker itself (its pid, memory, open files and asyncio tasks: what an endurance run watches).

With several workers (`serve --workers N`), the counts are every worker's: each writes its own
to files in the directory PROMETHEUS_MULTIPROC_DIR names (prometheus-client's multiprocess
mode; `serve` makes one for the run and removes it after), and whichever worker answers a
scrape or the status page adds them up. One process (a single worker, tests) keeps them in
memory. The worker's own figures (pid, memory, tasks, the master it writes to) are the
answering worker's.

A request's counts are kept in the worker's memory first (web/tally.py: changing
prometheus-client's values one by one was a twentieth of a post's CPU), and handed over in bulk
before every read and FLUSH_SECONDS after a request at most: a scrape is exact for the worker
that answers it and at most FLUSH_SECONDS behind for the others.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentinel_board.ha import RedisHA, format_address
from sentinel_board.web import tally

FLUSH_SECONDS = 0.5  # what a worker counts reaches the others' scrapes this long after, at most

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"  # set: the workers' counts are shared through files
READINESS = "/readyz"  # its 503s tell a load balancer, not a user, that no master answers

# The HA layer's counts (HAStats), as counters: a field, its metric, and how the workers' add
# up. Every worker follows every failover: the board followed as many as the most any did.
HA_COUNTS = {
    "retries": ("sentinel_board_redis_retries", "Attempts retried while following a failover."),
    "failovers_followed": (
        "sentinel_board_failovers_followed",
        "Times the board moved to a new master (each worker moves: the most any did).",
    ),
    "unavailable": (
        "sentinel_board_redis_unavailable",
        "Operations that found no master in time: users' requests, /readyz's checks and the "
        "webhook notifier's (sentinel_board_unavailable_served counts the users').",
    ),
    "batches": (
        "sentinel_board_redis_batches",
        "Pipelines sent: the commands of concurrent requests go out together.",
    ),
    "batched_commands": (
        "sentinel_board_redis_batched_commands",
        "Commands sent in those pipelines (a transaction counts once, and so does a read "
        "shared by concurrent requests).",
    ),
}
MOST = {"failovers_followed"}  # the rest: the sum over workers
_HA_GAUGES = ("sentinel_board_ha_sum", "sentinel_board_ha_max")  # read, never shown


class Metrics:
    """One registry per app, so that two apps in one process (tests) count apart."""

    def __init__(self) -> None:
        shared = os.environ.get(SHARED_DIR)
        if shared and values.ValueClass is values.MutexValue:
            # prometheus-client chooses where values live when it is imported: a worker forked
            # from a process that imported it before the directory was named (granian forks,
            # uvicorn spawns) chooses again, or it would count in memory, unseen.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        counted = CollectorRegistry()  # this worker's counts (in files, when shared)
        self.requests = Counter(
            "sentinel_board_http_requests", "HTTP requests answered.",
            ["method", "route", "status"], registry=counted,
        )  # fmt: skip
        self.latency = tally.Histogram(
            "sentinel_board_http_request_duration_seconds", "Time to answer a request.",
            ["method", "route"], registry=counted,
        )  # fmt: skip
        self.unavailable_served = Counter(
            "sentinel_board_unavailable_served",
            "Requests answered 503 (no master in time), /readyz's not counted.",
            registry=counted,
        )
        self.redis_latency = tally.Histogram(
            "sentinel_board_redis_round_trip_seconds",
            "One attempt of a Redis operation on the master (a write includes its WAIT).",
            registry=counted,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        # HAStats is plain numbers: copied into these when the counts are read or a request
        # ends, so that the other workers' scrapes see them.
        added = Gauge(
            "sentinel_board_ha_sum", "HAStats, per field.", ["field"], registry=counted,
            multiprocess_mode="sum",
        )  # fmt: skip
        most = Gauge(
            "sentinel_board_ha_max", "HAStats, per field.", ["field"], registry=counted,
            multiprocess_mode="max",
        )  # fmt: skip
        self._ha_gauges = {
            field: (most if field in MOST else added).labels(field) for field in HA_COUNTS
        }
        self._published: dict[str, int] = {}
        self._redis: RedisHA | None = None
        self._answered = tally.Counts(self.requests)  # kept until flushed, as the histograms
        self._histograms = (self.latency, self.redis_latency)
        self._parts = {part for h in self._histograms for part in h.parts}  # not shown
        self._flushing: asyncio.TimerHandle | None = None
        self._shared = shared is not None
        self._counts: Callable[[], Iterable[Metric]] = (
            MultiProcessCollector(None, shared).collect  # type: ignore[no-untyped-call]
            if shared
            else counted.collect
        )
        self.registry = CollectorRegistry()  # what a scrape shows
        self.registry.register(_Counts(self))
        # process_resident_memory_bytes, process_open_fds, ...: of this worker (the one that
        # answers the scrape: with --workers N, one of them).
        ProcessCollector(registry=self.registry)
        self.registry.register(_WorkerCollector())

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._answered.inc((method, route, str(status)))
        self.latency.observe((method, route), seconds)
        if status == 503 and route != READINESS:
            self.unavailable_served.inc()
        self._flush_soon()

    def watch(self, redis: RedisHA) -> None:
        redis.on_command = self._round_trip
        self._redis = redis
        self.registry.register(_MasterCollector(redis))

    def _round_trip(self, seconds: float) -> None:
        self.redis_latency.observe((), seconds)
        self._flush_soon()

    def _flush_soon(self) -> None:
        """Shared with other workers: what this one counted reaches them FLUSH_SECONDS after
        it is counted at most (a read by this worker flushes first: exact)."""
        if self._shared and self._flushing is None:
            self._flushing = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """What this worker counted since the last flush, to prometheus-client's values (in
        the shared files, when shared); its HAStats too. A worker that stops flushes last."""
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        self._answered.flush()
        for histogram in self._histograms:
            histogram.flush()
        if self._redis is None:
            return
        stats = self._redis.stats
        for field, gauge in self._ha_gauges.items():
            value = getattr(stats, field)
            if self._published.get(field) != value:
                gauge.set(value)
                self._published[field] = value

    def read(self) -> tuple[list[Metric], dict[str, float]]:
        """The counts (every worker's when shared): the families shown as they are, and
        HAStats's fields added up."""
        self.flush()
        shown: list[Metric] = []
        parts: list[Metric] = []  # the histograms' counters
        ha = dict.fromkeys(HA_COUNTS, 0.0)
        for family in self._counts():
            if family.name in self._parts:
                parts.append(family)
                continue
            if family.name not in _HA_GAUGES:
                shown.append(family)
                continue
            for sample in family.samples:
                field, value = sample.labels["field"], sample.value
                ha[field] = max(ha[field], value) if field in MOST else ha[field] + value
        shown += [h.assemble(parts) for h in self._histograms]
        return shown, ha

    def totals(self) -> dict[str, float]:
        """Every worker's counts: each HAStats field, and `unavailable_served`."""
        shown, ha = self.read()
        served = sum(
            sample.value
            for family in shown
            if family.name == "sentinel_board_unavailable_served"
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        return {**ha, "unavailable_served": served}

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE)


class _Counts(Collector):
    """The counts (every worker's when shared), HAStats's as the counters they are."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        shown, ha = self.metrics.read()
        yield from shown
        for field, (name, documentation) in HA_COUNTS.items():
            yield CounterMetricFamily(name, documentation, value=ha[field])


class _MasterCollector(Collector):
    def __init__(self, redis: RedisHA) -> None:
        self.redis = redis

    def collect(self) -> Iterator[GaugeMetricFamily]:
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

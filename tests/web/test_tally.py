from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import hypothesis
import prometheus_client
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, values
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

from sentinel_board.config import Settings
from sentinel_board.web import metrics as metrics_module
from sentinel_board.web import tally
from sentinel_board.web.metrics import SHARED_DIR, Metrics
from tests.helpers import app_client

BOUNDS = prometheus_client.Histogram.DEFAULT_BUCKETS[:-1]
ROUTES = st.sampled_from([("GET", "/"), ("POST", "/message"), ("GET", "/messages")])
SECONDS = st.one_of(
    st.sampled_from(BOUNDS),  # on a bound: counted in that bucket, as prometheus-client does
    st.floats(min_value=0, max_value=30, allow_nan=False),
)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # by name and labels


def samples(families: Iterable[prometheus_client.Metric]) -> Samples:
    """The families' samples, without the _created ones (times, not counts)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in families
        for s in family.samples
        if not s.name.endswith("_created")
    }


@hypothesis.settings(
    deadline=None
)  # what is checked is the figures, not the time (a first call is slow)
@given(st.lists(st.tuples(ROUTES, SECONDS), max_size=60), st.integers(0, 60))
def test_a_histogram_kept_then_flushed_reads_as_prometheus_clients_own(
    observations: list[tuple[tuple[str, str], float]], flush_after: int
) -> None:
    own = CollectorRegistry()
    reference = prometheus_client.Histogram("h", "Seconds.", ["method", "route"], registry=own)
    registry = CollectorRegistry()
    kept = tally.Histogram("h", "Seconds.", ["method", "route"], registry=registry)
    for n, (labels, seconds) in enumerate(observations):
        reference.labels(*labels).observe(seconds)
        kept.observe(labels, seconds)
        if n == flush_after:
            kept.flush()  # two flushes add up
    kept.flush()
    (expected,) = own.collect()
    assembled = kept.assemble(registry.collect())
    assert (assembled.name, assembled.type, assembled.documentation) == (
        expected.name, expected.type, expected.documentation,
    )  # fmt: skip
    assert samples([assembled]) == pytest.approx(samples([expected]))


def test_an_unlabelled_histogram_shows_its_buckets_before_any_observation() -> None:
    registry = CollectorRegistry()
    kept = tally.Histogram("h", "Seconds.", buckets=(0.1, 1), registry=registry)
    assembled = kept.assemble(registry.collect())
    assert [(s.name, s.labels, s.value) for s in assembled.samples] == [
        ("h_bucket", {"le": "0.1"}, 0.0),
        ("h_bucket", {"le": "1.0"}, 0.0),
        ("h_bucket", {"le": "+Inf"}, 0.0),
        ("h_count", {}, 0.0),
        ("h_sum", {}, 0.0),
    ]


def test_counts_kept_are_added_up_at_flush() -> None:
    registry = CollectorRegistry()
    counter = prometheus_client.Counter("c", "Things.", ["kind"], registry=registry)
    counts = tally.Counts(counter)
    for kind in ("a", "b", "a"):
        counts.inc((kind,))
    assert registry.get_sample_value("c_total", {"kind": "a"}) is None  # kept, not yet counted
    counts.flush()
    counts.inc(("a",), 2)
    counts.flush()
    assert registry.get_sample_value("c_total", {"kind": "a"}) == 4
    assert registry.get_sample_value("c_total", {"kind": "b"}) == 1


def _shared_counts(directory: Path) -> Samples:
    return samples(MultiProcessCollector(None, str(directory)).collect())


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A worker's counts shared through files, as with several workers; prometheus-client's
    choice of where values live is put back after the test."""
    monkeypatch.setenv(SHARED_DIR, str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MutexValue)
    yield tmp_path
    # The files the worker's counts went to, closed (a worker keeps them to its end).
    close = getattr(values, "close_all_multiprocess_files", None)
    if close is not None:
        close()
    else:  # prometheus-client before 0.26 keeps no list of them: found among the objects
        for found in gc.get_objects():
            if isinstance(found, MmapedDict):
                found.close()  # once: it does nothing on a closed one


async def test_shared_counts_reach_the_files_within_the_flush_interval(shared: Path) -> None:
    metrics = Metrics()
    metrics.observe("GET", "/", 200, 0.003)
    key = ("sentinel_board_http_requests_total",
           (("method", "GET"), ("route", "/"), ("status", "200")))  # fmt: skip
    assert key not in _shared_counts(shared)  # kept in the worker until its flush
    deadline = time.monotonic() + metrics_module.FLUSH_SECONDS + 5
    while _shared_counts(shared).get(key) != 1:
        assert time.monotonic() < deadline, "not flushed in time"
        await asyncio.sleep(0.05)  # the loop runs the flush's timer meanwhile
    text = bytes(metrics.render().body).decode()
    assert (
        'sentinel_board_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/"} 1.0'
        in text
    )


async def test_a_stopping_worker_flushes_what_it_kept(
    shared: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "FLUSH_SECONDS", 3600)  # no timer before the end
    async with app_client(settings) as client:
        assert (await client.post("/message", data={"message": "last"})).status_code == 200
    counted = _shared_counts(shared)
    key = ("sentinel_board_http_requests_total",
           (("method", "POST"), ("route", "/message"), ("status", "200")))  # fmt: skip
    assert counted[key] == 1
    assert counted["sentinel_board_redis_round_trip_seconds_summed_total", ()] > 0

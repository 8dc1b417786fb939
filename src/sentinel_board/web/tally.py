"""Counts and histograms kept in the worker's own memory, handed to prometheus-client in bulk.

Each of prometheus-client's values costs a few µs to change (a lock, and with several workers
a write to the file the other workers read): the three a request changed (its count, its
latency, its Redis round trip) cost a post about 12 µs of CPU, a twentieth of it. A request now
adds to plain numbers here, and `flush` adds what gathered to prometheus-client's values, once
per label set. The metrics module flushes before it reads, and on a timer while requests come.

A histogram is kept in prometheus-client as two counters, its observations per bucket (not
cumulative) and their sum, which add up across workers as counters do; `assemble` makes the
histogram again when the counts are read, in the exposition prometheus-client's own
Histogram gives (the same buckets, counts and sums: tests/web/test_tally.py compares them),
without the `_created` time it adds in a single process (as with several workers, always).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

import prometheus_client
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]


def _child(counter: Counter, labels: Labels) -> Counter:
    return counter.labels(*labels) if labels else counter  # an unlabelled one has no labels()


class Counts:
    """A Counter's increments by label values, kept until `flush`."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self._kept: dict[Labels, float] = {}

    def inc(self, labels: Labels, amount: float = 1) -> None:
        self._kept[labels] = self._kept.get(labels, 0) + amount

    def flush(self) -> None:
        kept, self._kept = self._kept, {}
        for labels, amount in kept.items():
            _child(self.counter, labels).inc(amount)


class Histogram:
    """A histogram whose observations are kept until `flush`, then counted per bucket."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = prometheus_client.Histogram.DEFAULT_BUCKETS,
        registry: CollectorRegistry,
    ) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self.bounds = tuple(sorted(b for b in map(float, buckets) if b != float("inf")))
        self._les = [*map(floatToGoString, self.bounds), "+Inf"]
        self.parts = (name + "_in_bucket", name + "_summed")  # the counters' names
        self._buckets = Counter(
            self.parts[0], documentation + " Observations per bucket (not cumulative).",
            [*self.labelnames, "le"], registry=registry,
        )  # fmt: skip
        self._sums = Counter(
            self.parts[1], documentation + " Sum of the observations.", self.labelnames,
            registry=registry,
        )  # fmt: skip
        self._kept: dict[Labels, list[float]] = {}  # the sum, then each bucket's count

    def observe(self, labels: Labels, value: float) -> None:
        kept = self._kept.get(labels)
        if kept is None:
            kept = self._kept[labels] = [0.0] * (len(self._les) + 1)
        kept[0] += value
        kept[1 + bisect_left(self.bounds, value)] += 1  # the first bucket whose bound >= value

    def flush(self) -> None:
        kept, self._kept = self._kept, {}
        for labels, (total, *counts) in kept.items():
            _child(self._sums, labels).inc(total)
            for le, count in zip(self._les, counts, strict=True):
                if count:
                    self._buckets.labels(*labels, le).inc(count)

    def assemble(self, families: Iterable[Metric]) -> HistogramMetricFamily:
        """The histogram, from its two counters' families as collected (every worker's, when
        they are shared); other families are passed over."""
        counts: dict[Labels, dict[str, float]] = {}
        sums: dict[Labels, float] = {}
        for family in families:
            if family.name not in self.parts:
                continue
            for sample in family.samples:
                if not sample.name.endswith("_total"):
                    continue  # _created
                labels = tuple(sample.labels[name] for name in self.labelnames)
                if family.name == self.parts[0]:
                    per_le = counts.setdefault(labels, {})
                    le = sample.labels["le"]
                    per_le[le] = per_le.get(le, 0.0) + sample.value
                else:
                    sums[labels] = sums.get(labels, 0.0) + sample.value
        if not self.labelnames:  # as prometheus-client shows an unlabelled one: from the start
            counts.setdefault((), {})
        histogram = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels in sorted(counts.keys() | sums.keys()):
            per_le, cumulative, buckets = counts.get(labels, {}), 0.0, []
            for le in self._les:
                cumulative += per_le.get(le, 0.0)
                buckets.append((le, cumulative))
            histogram.add_metric(list(labels), buckets, sums.get(labels, 0.0))
        return histogram

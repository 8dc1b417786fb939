"""The benchmark's own arithmetic: wrk's report read right (the figures come from `make bench`)."""

from __future__ import annotations

from bench.load import Figures, parse
from bench.run import median_run

REPORT = """\
Running 8s test @ http://127.0.0.1:40001/unread-list/size
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    33.70ms   20.11ms 146.70ms   70.00%
    Req/Sec     0.93k   120.00     1.20k    68.00%
  Latency Distribution
     50%  850.00us
     75%   40.00ms
     90%   60.00ms
     99%    1.47s
  14824 requests in 8.00s, 3.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   1853.04
Transfer/sec:    396.00KB
"""


def test_wrk_figures_are_read_with_their_units() -> None:
    figures = parse(REPORT)
    assert figures.rps == 1853.04
    assert figures.p50_ms == 0.85
    assert figures.p99_ms == 1470.0
    assert figures.requests == 14824
    assert figures.errors == 7 + 2 + 3


def test_a_clean_run_has_no_errors() -> None:
    clean = "\n".join(
        line for line in REPORT.splitlines() if not line.startswith(("  Socket", "  Non-2xx"))
    )
    assert parse(clean).errors == 0


def test_the_median_run_is_kept() -> None:
    runs = [Figures(rps, 1.0, rps / 100, 1, 0) for rps in (300.0, 100.0, 200.0)]
    assert median_run(runs).rps == 200.0
    assert median_run(runs).p99_ms == 2.0, "the whole run, its latencies with it"
    assert median_run(runs[:2]).rps == 100.0, "of two, the lower"
    assert median_run(runs[:1]).rps == 300.0

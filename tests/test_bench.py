"""The benchmark's own arithmetic (wrk's report read right; the figures come from `make bench`),
and what it runs: our app behind each HTTP server, the floor, the reference peer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.compare import export_src
from bench.compare import main as compare
from bench.floor import PAGE
from bench.load import Figures, parse
from bench.run import TOGETHER, Bench, Workload, median_run
from bench.servers import PEER_NAME, ROOT, Server, start_ours, start_peer
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from sentinel_board.web.server import HTTP_SERVERS, HttpServer
from tests.helpers import tracked_files

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


class Turns(Bench):
    """The bench's order of runs, each answered with a figure made up from its turn."""

    def __init__(self) -> None:
        self.rows, self.floors = [], {}
        self.turns: list[tuple[str, str]] = []

    def run(self, server: Server, workload: Workload, label: str) -> Figures:
        self.turns.append((workload.name, server.name))
        return Figures(float(len(self.turns)), 1.0, 1.0, 1, 0)


def test_the_two_posts_take_turns_in_the_same_rounds_and_the_peer_only_has_the_form() -> None:
    ours, peer, floor = (Server(name, "", 0, http) for name, http in
                         (("ours", "uvicorn"), (PEER_NAME, ""), ("floor", "uvicorn")))  # fmt: skip
    bench = Turns()
    form, api = TOGETHER[0]
    bench.measure([ours, peer], [form, api], rounds=3, floors=[floor])
    one_round = [(form.name, "ours"), (form.name, PEER_NAME), (form.name, "floor"),
                 (api.name, "ours"), (api.name, "floor")]  # fmt: skip
    assert bench.turns == one_round * 3
    kept = {(row.workload, row.server): row.figures.rps for row in bench.rows}
    assert kept == {(form.name, "ours"): 6.0, (form.name, PEER_NAME): 7.0, (api.name, "ours"): 9.0}
    assert bench.floors[api.name, "uvicorn"].rps == 10.0, "the median of its three rounds"


@pytest.mark.parametrize("http", HTTP_SERVERS)
def test_our_app_behind_each_http_server_stores_what_it_acknowledges(
    topology: Topology, tmp_path: Path, http: HttpServer
) -> None:
    """`serve --http-server`: the app behind uvicorn or granian, as `make bench` runs it."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    ours = start_ours(
        topology, free_port(), 2, tmp_path, http, env={"SENTINEL_BOARD_KEY_PREFIX": prefix}
    )
    try:
        for n in range(3):
            _post(ours.url, f"through {http} {n}")
        assert _count(ours.url) == 3
        assert "through " + http in _get(ours.url, "/messages")
    finally:
        ours.stop()
    assert _llen(topology, prefix + "UNREAD") == 3


@pytest.mark.parametrize("http", HTTP_SERVERS)
def test_the_floor_answers_every_route_without_redis(
    topology: Topology, tmp_path: Path, http: HttpServer
) -> None:
    """bench/floor.py: the same app and server, its store in memory: a post reaches no list."""
    prefix = f"floor-{uuid.uuid4().hex[:8]}:"
    env = {"SENTINEL_BOARD_KEY_PREFIX": prefix}
    floor = start_ours(topology, free_port(), 1, tmp_path, http, floor=True, env=env)
    try:
        _post(floor.url, "to the floor")
        assert _count(floor.url) == 1
        page = _get(floor.url, "/messages")
        assert page.count("a message of about forty characters") == 2 * PAGE
    finally:
        floor.stop()
    assert _llen(topology, prefix + "UNREAD") == 0


def test_the_reference_peer_runs_from_the_repository(topology: Topology, tmp_path: Path) -> None:
    """bench/peers/seed_flask: the seed's controller in Flask, behind gunicorn's 4 workers."""
    peer = start_peer(topology, free_port(), tmp_path)
    try:
        before = _count(peer.url)
        _post(peer.url, "to the peer")
        assert _count(peer.url) == before + 1
    finally:
        peer.stop()


def _post(url: str, text: str) -> None:
    body = urllib.parse.urlencode({"message": text}).encode()
    with urllib.request.urlopen(url + "/message", data=body, timeout=10) as answer:
        assert answer.status == 200


def _get(url: str, path: str) -> str:
    with urllib.request.urlopen(url + path, timeout=10) as answer:
        return str(answer.read().decode()).strip()


def _count(url: str) -> int:
    """The count in the fragment GET /unread-list/size answers (ours and the peer's)."""
    found = re.search(r"\d+", _get(url, "/unread-list/size"))
    assert found is not None
    return int(found.group())


def _llen(topology: Topology, key: str) -> int:
    return int(topology.ask(topology.node(topology.master_name() or ""), "LLEN", key))


def test_the_store_alone_costs_cpu_per_post_and_its_posts_are_stored(
    topology: Topology,
) -> None:
    """bench/push.py, as `make bench` runs it: with the app's settings, against Redis."""
    prefix = f"push-{uuid.uuid4().hex[:8]}:"
    env = {**os.environ, **topology.app_env(), "SENTINEL_BOARD_KEY_PREFIX": prefix}
    done = subprocess.run(
        [sys.executable, "-m", "bench.push", "--posts", "200", "--concurrency", "8",
         "--rounds", "2", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    figures = json.loads(done.stdout)
    assert len(figures["rounds_cpu_us"]) == 2
    assert figures["cpu_us"] > 0
    assert 1 <= figures["posts_per_batch"] <= 8, "at most one post of each task in a batch"
    assert _llen(topology, prefix + "UNREAD") == 8 * 20 + 2 * 200, "the warm-up's and the rounds'"


def test_another_commit_s_app_is_served_from_its_own_source(tmp_path: Path) -> None:
    """bench.compare serves REV's package, not the installed one (which PYTHONPATH could lose
    to), and names a REV git does not know as a usage error."""
    tracked_files(ROOT)  # skipped outside a git checkout
    src = export_src("HEAD", tmp_path / "head")
    assert (src / "sentinel_board" / "store.py").read_bytes() == subprocess.run(
        ["git", "show", "HEAD:src/sentinel_board/store.py"], cwd=ROOT, capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    refused = CliRunner().invoke(compare, ["no-such-revision"])
    assert refused.exit_code == 2 and "no-such-revision" in refused.output

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from sentinel_board.config import Settings
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from sentinel_board.web.metrics import SHARED_DIR
from sentinel_board.web.server import METRICS_PREFIX, shared_metrics
from tests.helpers import app_client, wait_until


def value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in /metrics")


async def test_metrics_count_requests_by_route_and_status(
    client: httpx.AsyncClient, topology: Topology
) -> None:
    await client.post("/api/messages", json={"message": "one"})
    await client.post("/api/messages", json={"message": "two"})
    await client.post("/api/messages", json={"message": ""})
    await client.get("/no/such/page")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert (
        value(
            text,
            'sentinel_board_http_requests_total{method="POST",route="/api/messages",status="201"}',
        )
        == 2
    )
    assert (
        value(
            text,
            'sentinel_board_http_requests_total{method="POST",route="/api/messages",status="422"}',
        )
        == 1
    )
    assert (
        value(
            text, 'sentinel_board_http_requests_total{method="GET",route="unmatched",status="404"}'
        )
        == 1
    )
    assert (
        value(
            text,
            'sentinel_board_http_request_duration_seconds_count{method="POST",route="/api/messages"}',
        )
        == 3
    )
    assert value(text, "sentinel_board_redis_round_trip_seconds_count") >= 2
    assert value(text, "sentinel_board_failovers_followed_total") == 0
    assert value(text, "sentinel_board_redis_unavailable_total") == 0
    master = topology.node(topology.master_name() or "")
    assert value(text, f'sentinel_board_master{{address="127.0.0.1:{master.port}"}}') == 1


async def test_the_two_busiest_routes_are_counted_by_their_route(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/message", data={"message": "by form"})
    await client.get("/unread-list/size")
    await client.get("/unread-list/size")
    text = (await client.get("/metrics")).text
    requests = "sentinel_board_http_requests_total"
    assert value(text, requests + '{method="POST",route="/message",status="200"}') == 1
    assert value(text, requests + '{method="GET",route="/unread-list/size",status="200"}') == 2
    assert 'route="unmatched"' not in text
    assert "_in_bucket" not in text and "_summed" not in text  # the histograms' own counters


async def test_metrics_say_which_worker_answered_and_what_it_holds(
    client: httpx.AsyncClient,
) -> None:
    text = (await client.get("/metrics")).text
    assert value(text, f'sentinel_board_worker{{pid="{os.getpid()}"}}') == 1
    assert value(text, "sentinel_board_asyncio_tasks") >= 1
    assert value(text, "process_resident_memory_bytes") > 10_000_000
    assert value(text, "process_open_fds") > 3


async def test_503s_served_to_users_are_counted_apart_from_readyz(settings: Settings) -> None:
    nowhere = settings.model_copy(
        update={"sentinels": [("127.0.0.1", free_port())], "failover_deadline": 0.2}
    )
    async with app_client(nowhere) as client:
        assert (await client.post("/api/messages", json={"message": "x"})).status_code == 503
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/readyz")).status_code == 503
        text = (await client.get("/metrics")).text
        status = (await client.get("/api/status")).json()
    assert value(text, "sentinel_board_unavailable_served_total") == 1
    assert value(text, "sentinel_board_redis_unavailable_total") >= 3  # /readyz's too
    assert status["app"]["unavailable"] == 1  # the status page's "503s served"


def _get(url: str) -> httpx.Response:
    # A new connection each time: the kernel hands it to either worker.
    return httpx.get(url, headers={"Connection": "close"}, timeout=5)


@pytest.mark.parametrize("http_server", ["uvicorn", "granian"])
def test_with_several_workers_the_counts_are_every_workers(
    topology: Topology, tmp_path: Path, http_server: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **topology.app_env(), "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    serve = subprocess.Popen(
        [sys.executable, "-m", "sentinel_board", "serve", "--port", str(port), "--workers", "2",
         "--http-server", http_server],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: _answers(url + "/healthz"), timeout=30)
        assert len(list(tmp_path.glob("sentinel-board-metrics-*"))) == 1  # made for the run
        posts = 12
        for n in range(posts):
            response = httpx.post(
                url + "/message", data={"message": f"m{n}"}, headers={"Connection": "close"}
            )
            assert response.status_code == 200
        requests = 'sentinel_board_http_requests_total{method="POST",route="/message",status="200"}'

        # Each worker hands its counts over FLUSH_SECONDS after a request at most.
        def all_counted() -> bool:
            text = _get(url + "/metrics").text
            return requests in text and value(text, requests) == posts  # none yet: absent

        wait_until(all_counted, timeout=10)
        answered_by: set[str] = set()

        def both_workers_answered() -> bool:
            text = _get(url + "/metrics").text
            assert value(text, requests) == posts  # whichever worker answers: all of them
            pid = next(
                line for line in text.splitlines() if line.startswith("sentinel_board_worker{")
            )
            answered_by.add(pid)
            return len(answered_by) == 2

        wait_until(both_workers_answered, timeout=30)
        assert _get(url + "/api/status").json()["app"]["unavailable"] == 0
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    assert list(tmp_path.glob("sentinel-board-metrics-*")) == []  # removed when they stopped


def _answers(url: str) -> bool:
    try:
        return _get(url).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_metrics_directory_left_by_a_killed_server_is_removed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL leaves no chance to clean up: the next server with several workers does."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv(SHARED_DIR, raising=False)
    tempfile.tempdir = None  # read TMPDIR again
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    abandoned = tmp_path / f"{METRICS_PREFIX}{gone.stdout.strip()}-x1"
    running = tmp_path / f"{METRICS_PREFIX}{os.getpid()}-x2"  # a live server's: kept
    for directory in (abandoned, running):
        directory.mkdir()
        (directory / "counter_1.db").write_bytes(b"")
    try:
        with shared_metrics(2):
            made = Path(os.environ[SHARED_DIR])
            assert made.parent == tmp_path and made.name.startswith(
                f"{METRICS_PREFIX}{os.getpid()}-"
            )
        assert not abandoned.exists() and running.exists() and not made.exists()
    finally:
        tempfile.tempdir = None

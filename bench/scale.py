"""Scale: pages over a million messages, and a flush that never blocks."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from sentinel_board.keys import Keys
from sentinel_board.messages import Message

BATCH = 10_000

KEYS = Keys()  # the app the bench runs has no key prefix


def admin(host: str, port: int, password: str | None) -> redis.Redis:
    return redis.Redis(host=host, port=port, password=password, socket_timeout=30)


def fill_payload() -> str:
    """A message as the app stores it (JSON), of a typical length."""
    text = "a message of about forty characters, ok?"
    return Message("0" * 32, text, "2026-11-25T09:00:00.000+00:00").to_json()


def fill(client: redis.Redis, key: str, count: int) -> None:
    """`count` messages as the app stores them, pushed in pipelined batches."""
    payload = fill_payload()
    for start in range(0, count, BATCH):
        client.rpush(key, *([payload] * min(BATCH, count - start)))
    client.wait(1, 10_000)


@dataclass(frozen=True)
class FlushFigures:
    messages: int
    seconds: float
    longest_ping_ms: float  # what another client waited, at worst, during the flush
    longest_command_ms: float  # Redis's own LATENCY monitor: the longest a command ran


class PingWatch:
    """Another client, pinging the master without pause: how long was it ever kept waiting?"""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            self.client.ping()
            self.longest = max(self.longest, time.perf_counter() - started)

    def __enter__(self) -> PingWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def flush_figures(
    client: redis.Redis, watcher: redis.Redis, flush: Callable[[], object], count: int
) -> FlushFigures:
    client.delete(KEYS.unread, KEYS.read)
    fill(client, KEYS.unread, count)
    client.config_set("latency-monitor-threshold", 1)
    client.execute_command("LATENCY", "RESET")  # type: ignore[no-untyped-call]
    with PingWatch(watcher) as watch:
        started = time.perf_counter()
        flush()
        seconds = time.perf_counter() - started
    events = client.execute_command("LATENCY", "LATEST")  # type: ignore[no-untyped-call]
    client.config_set("latency-monitor-threshold", 0)
    # LATENCY LATEST: [event, time, latest ms, max ms]; "command" covers scripts too.
    longest = max((int(e[3]) for e in events if e[0] in (b"command", "command")), default=0)
    assert client.llen(KEYS.unread) == 0 and client.llen(KEYS.read) == count
    return FlushFigures(count, seconds, watch.longest * 1000, float(longest))


def redis_benchmark(host: str, port: int, password: str | None) -> dict[str, float]:
    """The Redis commands one request costs, alone: what Redis itself can do (requests/s)."""
    commands = {
        "LLEN (the count)": ["LLEN", KEYS.unread],
        "RPUSH (a post's write)": ["RPUSH", "bench:rpush", "x" * 120],
        "LRANGE -100 -1 (a page)": ["LRANGE", KEYS.read, "-100", "-1"],
    }
    found = {}
    for label, command in commands.items():
        argv = ["redis-benchmark", "-h", host, "-p", str(port), "-n", "100000", "-c", "50", "-q"]
        argv += ["-a", password] if password else []
        out = subprocess.run([*argv, *command], capture_output=True, text=True, check=True).stdout
        rate = out.rsplit(":", 1)[-1].split("requests per second")[0]
        found[label] = float(rate.split()[-1])
    return found

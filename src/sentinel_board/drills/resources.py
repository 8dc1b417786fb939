"""What a long life costs: the board's and Redis's resources, sampled after every fault.

Per worker of the board (from its /metrics, scraped over new connections until every worker
has answered READINGS times): resident memory, open file descriptors, asyncio tasks, each the
least of its readings. What leaks stays in every reading; what passes (a scrape's connection
that its client closed and the worker has yet to, a health check's, a request that timed out
still in its handler) does not. Per node: Redis's `connected_clients` (the least of as many
readings); on the master: `used_memory` and the key count. Judged: file
descriptors and client connections within ±2 of their level after the first fault, the
board's memory grown by at most 5 MB, the keys bounded by what the workload keeps.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from sentinel_board.drills.endurance_target import READINGS, EnduranceTarget, RedisFigures

SCRAPES = 90  # at most, to hear from every worker that often
TOLERANCE = 2  # file descriptors, connections
MEMORY_GROWTH = 5 * 1024 * 1024  # bytes, all workers together
WORKER_METRICS = {
    "process_resident_memory_bytes": "rss",
    "process_open_fds": "fds",
    "sentinel_board_asyncio_tasks": "tasks",
}


@dataclass(frozen=True)
class Sample:
    fault: int  # sampled after this fault's recovery and checks
    at: float
    workers: dict[str, dict[str, float]]  # pid -> rss (bytes), fds, tasks
    redis: RedisFigures


async def sample(target: EnduranceTarget, fault: int) -> Sample:
    redis = await asyncio.to_thread(target.redis_figures)
    return Sample(fault, time.time(), await _workers(target), redis)


async def _workers(target: EnduranceTarget) -> dict[str, dict[str, float]]:
    readings: dict[str, list[dict[str, float]]] = {}
    for _ in range(SCRAPES):
        # A client per scrape: a new connection, which any worker may accept.
        async with httpx.AsyncClient(base_url=target.app_url, timeout=10) as client:
            try:
                text = (await client.get("/metrics")).text
            except httpx.HTTPError:
                continue
        pid, figures = "", {}
        for family in text_string_to_metric_families(text):
            for metric in family.samples:
                if metric.name == "sentinel_board_worker":
                    pid = metric.labels["pid"]
                elif metric.name in WORKER_METRICS:
                    figures[WORKER_METRICS[metric.name]] = metric.value
        if pid:
            readings.setdefault(pid, []).append(figures)
        heard = [len(r) for r in readings.values()]
        if len(heard) >= target.workers and min(heard) >= READINGS:
            break
    return least(readings)


def least(readings: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each worker's figures, each the least of its readings."""
    return {pid: {name: min(r[name] for r in seen if name in r) for name in seen[0]}
            for pid, seen in readings.items()}  # fmt: skip


def verdicts(samples: list[Sample], key_bounds: list[int]) -> list[tuple[str, bool, str]]:
    """(what is required, whether it held, the figures), after the first fault's level;
    `key_bounds`: the most keys Redis may hold at each sample."""
    if len(samples) < 2:
        return []
    found: list[tuple[str, bool, str]] = []
    pids = sorted(samples[0].workers)
    replaced = [s.fault for s in samples[1:] if sorted(s.workers) != pids]
    figures = f"pids {', '.join(pids)}" + (f"; changed at faults {replaced}" if replaced else "")
    found.append(("the board's workers are the same processes", not replaced, figures))
    if not replaced:
        # Summed over the workers: the drill's own HTTP connections are open files of
        # whichever worker accepted them, and one that closes may be made again to another.
        found.append(_within("open files of the board", [_board(s, "fds") for s in samples]))
        rss = [_board(s, "rss") for s in samples]
        grown = rss[-1] - rss[0]
        figures = f"{rss[0] / 2**20:.1f} → {rss[-1] / 2**20:.1f} MB ({grown / 2**10:+.0f} kB)"
        what = "the board's memory (its workers') grows by at most 5 MB"
        found.append((what, grown <= MEMORY_GROWTH, figures))
    for what, clients in (
        ("client connections of the data nodes", [s.redis.data_clients for s in samples]),
        ("client connections of the sentinels", [s.redis.sentinel_clients for s in samples]),
    ):
        found.append(_within(what, [sum(c.values()) for c in clients]))
    over = [(s.fault, s.redis.keys, bound) for s, bound in zip(samples, key_bounds, strict=True)
            if s.redis.keys > bound]  # fmt: skip
    most, bound = max((s.redis.keys, b) for s, b in zip(samples, key_bounds, strict=True))
    what = "keys at most the lists, the probe and the dedup keys still due"
    figures = f"at most {most:,} keys (bound then {bound:,})"
    figures += f"; over at faults {[fault for fault, _, _ in over]}" if over else ""
    found.append((what, not over, figures))
    return found


def _board(sample: Sample, figure: str) -> float:
    return sum(worker[figure] for worker in sample.workers.values())


def _within(what: str, values: list[float]) -> tuple[str, bool, str]:
    level = values[0]
    low, high = min(values), max(values)
    held = level - TOLERANCE <= low and high <= level + TOLERANCE
    figures = f"{level:g} after the first, {low:g} to {high:g} over the run"
    figures += "" if held else f" (after each fault: {', '.join(f'{v:g}' for v in values)})"
    return f"{what} within ±{TOLERANCE} of their level after the first fault", held, figures

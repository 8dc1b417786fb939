"""The CPU a post costs in the store and the HA layer alone, without HTTP: `MessageStore.push`
from concurrent tasks in one process on uvloop, as one worker runs them, against a real
topology: the one the SENTINEL_BOARD_* settings name (its posts go to that board's UNREAD; `make
bench` runs it so against its own), or else one it starts and stops.

python -m bench.push [--posts N] [--concurrency C] [--rounds R] [--json]

What a post costs beyond its floor is this, and Redis's own work. The figure is the
process's CPU time per post (user and system), the median of the rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import uvloop

from bench.servers import ROOT, start_topology
from sentinel_board.config import Settings
from sentinel_board.ha import RedisHA
from sentinel_board.store import MessageStore
from sentinel_board.topology import Topology

TEXT = "hello from wrk"  # what bench/wrk/post_form.lua posts


@dataclass(frozen=True)
class PushFigures:
    cpu_us: float  # the median round's CPU time per post
    rounds_cpu_us: list[float]
    posts_per_batch: float  # as the batches went: the more in one, the less each costs


async def _measure(settings: Settings, posts: int, concurrency: int, rounds: int) -> PushFigures:
    async with RedisHA(settings.ha_config()) as redis:
        store = MessageStore(redis, key_prefix=settings.key_prefix)

        async def poster(count: int) -> None:
            for _ in range(count):
                await store.push(TEXT)

        await asyncio.gather(*(poster(20) for _ in range(concurrency)))  # connected, warm
        spent = []
        batches, each = redis.stats.batches, max(1, posts // concurrency)
        for _ in range(rounds):
            started = time.process_time()
            await asyncio.gather(*(poster(each) for _ in range(concurrency)))
            spent.append(round((time.process_time() - started) * 1e6 / (each * concurrency), 1))
        sent = redis.stats.batches - batches
    return PushFigures(statistics.median(spent), spent, each * concurrency * rounds / sent)


def _in_a_topology(posts: int, concurrency: int, rounds: int) -> PushFigures:
    """The settings the environment gives, or those of a topology of its own."""
    if os.environ.get("SENTINEL_BOARD_SENTINELS"):
        return uvloop.run(_measure(Settings(), posts, concurrency, rounds))
    with tempfile.TemporaryDirectory(prefix="sentinel-board-push-") as folder:
        topology = start_topology(Path(folder))
        try:
            os.environ.update(topology.app_env())  # as the app is given them
            return uvloop.run(_measure(Settings(), posts, concurrency, rounds))
        finally:
            topology.down()


def in_a_process(topology: Topology) -> dict[str, Any]:
    """This, in a process of its own, with the app's settings for this topology; a
    failure is reported with the other figures, not in their place."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.push", "--json"], cwd=ROOT, capture_output=True,
            text=True, check=True, timeout=600, env={**os.environ, **topology.app_env()},
        )  # fmt: skip
    except subprocess.CalledProcessError as failed:
        return {"error": f"exit {failed.returncode}: {failed.stderr.strip()[-500:]}"}
    except subprocess.TimeoutExpired:
        return {"error": "no answer within 600 s"}
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return figures


@click.command()
@click.option("--posts", default=20_000, show_default=True, type=click.IntRange(1),
              help="Per round.")  # fmt: skip
@click.option("--concurrency", default=32, show_default=True, type=click.IntRange(1),
              help="Tasks posting at once.")  # fmt: skip
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
def main(posts: int, concurrency: int, rounds: int, as_json: bool) -> None:
    figures = _in_a_topology(posts, concurrency, rounds)
    if as_json:
        click.echo(json.dumps(asdict(figures)))
    else:
        click.echo(
            f"{figures.cpu_us:.1f} µs of CPU per post in the store and the HA layer (rounds: "
            f"{', '.join(f'{each:.1f}' for each in figures.rounds_cpu_us)}), "
            f"{figures.posts_per_batch:.1f} posts per batch"
        )


if __name__ == "__main__":
    main()

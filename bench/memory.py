"""Redis memory per message, measured through the API: every key a post writes is counted.

python -m bench.memory [--messages N] [--failover-deadline S]

A post writes the message into UNREAD, and a dedup key beside it: the dedup key of the group
of concurrent posts the app sent as one, which lives only while the app may retry the write
(its failover deadline plus a margin), or a client's Idempotency-Key, kept a day. In bytes of
Redis `used_memory` per message: once the app's retry window has passed, and with a client's
key (for its day); and the list's own MEMORY USAGE.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import httpx
import redis

from bench.scale import KEYS
from bench.servers import Server, start_ours, start_topology
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port

TEXT = "a message of about forty characters, ok?"
CONCURRENCY = 32


@dataclass(frozen=True)
class MemoryFigures:
    messages: int
    after_window: float  # bytes per message once the app's own dedup keys expired
    with_client_key: float  # posted with an Idempotency-Key, kept for a day
    in_the_list: float  # MEMORY USAGE of UNREAD alone: the message itself
    window_s: float  # how long the app's own dedup keys lived, as measured


async def _post(url: str, count: int, *, client_keys: bool) -> None:
    numbers = itertools.count()

    async def poster(client: httpx.AsyncClient) -> None:
        while (n := next(numbers)) < count:
            headers = {"Idempotency-Key": uuid.uuid4().hex} if client_keys else {}
            response = await client.post(
                "/api/messages", json={"message": f"{TEXT} {n:08d}"}, headers=headers
            )
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(poster(client) for _ in range(CONCURRENCY)))


def _used(admin: redis.Redis) -> int:
    return int(admin.info("memory")["used_memory"])


def _dedup_keys(admin: redis.Redis) -> list[bytes]:
    return list(admin.scan_iter(match=KEYS.dedup_prefix + "*", count=10_000))


def _fill_backlog(admin: redis.Redis) -> None:
    """The replication backlog grows to its fixed size with the first writes, then stays:
    filled first, it is not counted as the messages' memory."""
    size = int(admin.config_get("repl-backlog-size")["repl-backlog-size"] or 0)
    # Made by a script, so that no 1 MB command sits in this client's query buffer.
    admin.eval("redis.call('SET', KEYS[1], string.rep('x', ARGV[1]))", 1, "bench:backlog", size)
    admin.delete("bench:backlog")


def per_message(url: str, admin: redis.Redis, count: int) -> MemoryFigures:
    """Post `count` messages through the API at `url`, twice: without and with a key."""
    admin.delete(KEYS.unread, KEYS.read)
    _fill_backlog(admin)
    before = _used(admin)
    posted = time.monotonic()
    asyncio.run(_post(url, count, client_keys=False))
    while _dedup_keys(admin):  # Redis expires them by itself, a few at a time
        time.sleep(1)
    window = time.monotonic() - posted
    after = (_used(admin) - before) / count
    in_the_list = int(admin.memory_usage(KEYS.unread, samples=0) or 0) / count

    admin.delete(KEYS.unread)
    before = _used(admin)
    asyncio.run(_post(url, count, client_keys=True))
    with_key = (_used(admin) - before) / count
    admin.delete(KEYS.unread, *_dedup_keys(admin))
    return MemoryFigures(count, after, with_key, in_the_list, window)


def measure(topology: Topology, ours: Server, count: int) -> MemoryFigures:
    master = topology.node(topology.master_name() or "")
    admin = redis.Redis(
        host=master.host, port=master.port, password=topology.password(master), socket_timeout=30
    )
    with admin:
        return per_message(ours.url, admin, count)


@click.command()
@click.option("--messages", default=20_000, show_default=True, type=click.IntRange(100))
@click.option(
    "--failover-deadline", default=10.0, show_default=True,
    help="The app's; its own dedup keys live this long plus a margin.",
)  # fmt: skip
def main(messages: int, failover_deadline: float) -> None:
    with tempfile.TemporaryDirectory(prefix="sentinel-board-memory-") as folder:
        topology = start_topology(Path(folder))
        ours = None
        try:
            env = {"SENTINEL_BOARD_FAILOVER_DEADLINE": str(failover_deadline)}
            ours = start_ours(topology, free_port(), 1, Path(folder), env=env)
            figures = measure(topology, ours, messages)
        finally:
            if ours is not None:
                ours.stop()
            topology.down()
    for name, value in asdict(figures).items():
        click.echo(f"{name}: {value:,.1f}" if isinstance(value, float) else f"{name}: {value:,}")


if __name__ == "__main__":
    main()

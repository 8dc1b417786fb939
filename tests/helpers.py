from __future__ import annotations

import asyncio
import inspect
import random
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.middleware import Middleware

from sentinel_board.config import Settings
from sentinel_board.store import MessageStore
from sentinel_board.topology import Node, Topology, probe
from sentinel_board.topology.credentials import APP_USER, SENTINEL_USER
from sentinel_board.web.app import create_app
from sentinel_board.web.hot import HotRoutes


def tracked_files(root: Path) -> list[str]:
    """The files `git ls-files` lists in `root`; the test is skipped outside a git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return listed.stdout.splitlines()


def free_port_base(count: int) -> int:
    """The first of `count` consecutive free ports, for commands that take a port base: below
    the ports the kernel gives outgoing connections, so that none of the suite's takes one
    between this check and the server's bind."""
    lowest = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    top = lowest if lowest > 11000 else 60000  # a machine that gives them all: anywhere
    for _ in range(100):
        base = random.randrange(10000, top - count)
        socks = [socket.socket() for _ in range(count)]
        try:
            for offset, sock in enumerate(socks):
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports")


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], object | Awaitable[object]], timeout: float, interval: float = 0.05
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    peer: str = "127.0.0.1",
    hot: bool = True,
    inner: Sequence[Middleware] = (),
    **options: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, its lifespan run, behind an HTTP client at address `peer`.
    `hot=False`: without web/hot.py's layer, the full stack answering everything; `inner`:
    ASGI middleware put right inside that layer, before the full stack."""
    app = create_app(settings)
    assert isinstance(app.hot, HotRoutes)
    app.user_middleware[0:0] = inner  # outermost of the stack: right inside the hot routes
    if not hot:
        app.hot = app.hot.app  # the full stack
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://board", **options) as client,
    ):
        yield client


def app_state(client: httpx.AsyncClient) -> Any:
    """The state of the app behind a client from `app_client`: its RedisHA, notifier, ..."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state  # type: ignore[attr-defined]


def settings_for(topology: Topology, **changes: Any) -> Settings:
    """The app's settings for a topology the launcher started, its credentials included."""
    values: dict[str, Any] = {"sentinels": topology.sentinel_addresses}
    if topology.credentials is not None:
        values |= {
            "redis_username": APP_USER,
            "redis_password": topology.credentials.app,
            "sentinel_password": topology.credentials.sentinel,
        }
    if topology.tls is not None:
        values["tls_ca_file"] = topology.tls.ca
    return Settings(**(values | changes))


def refuse_the_app(topology: Topology, sentinel: Node) -> None:
    """The sentinel now wants another password than the app's (as after a botched rotation),
    and drops its subscribers: the app can no longer hear its events."""
    password = topology.password(sentinel)
    with probe.client(sentinel.host, sentinel.port, password=password) as admin:
        admin.execute_command("ACL", "SETUSER", "default", "resetpass", ">another-password")
        admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")


def make_a_sentinel_disagree(topology: Topology, sentinel: Node, names: Node) -> None:
    """`sentinel` monitors `names` as the master, as in the seconds of a failover (a topology
    of the test's own, with a long down-after so that nothing fails over meanwhile)."""
    assert topology.credentials is not None
    for command in [
        ("REMOVE", "mymaster"),
        ("MONITOR", "mymaster", names.host, names.port, 2),
        ("SET", "mymaster", "auth-user", SENTINEL_USER, "auth-pass", topology.credentials.monitor),
    ]:
        assert topology.ask(sentinel, "SENTINEL", *command) in (True, "OK"), command


def node_client(settings: Settings, address: tuple[str, int], **options: Any) -> Redis:
    """A plain client of one data node, as the app's user, to look behind the app's back."""
    password = settings.redis_password
    return Redis(
        host=address[0],
        port=address[1],
        username=settings.redis_username,
        password=password.get_secret_value() if password else None,
        **options,
    )


async def all_texts(store: MessageStore) -> tuple[list[str], list[str]]:
    """The texts of every message of both lists, oldest first."""
    group = await store.read_group(100_000)
    return [m.message for m in group.unread], [m.message for m in group.read]

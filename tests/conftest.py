from __future__ import annotations

import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from sentinel_board.config import Settings
from sentinel_board.ha import Address, RedisHA
from sentinel_board.store import MessageStore
from sentinel_board.topology import Topology, TopologySpec, probe, process, render, servers
from sentinel_board.topology.ports import free_ports
from tests.helpers import app_client, settings_for, wait_until

TEST_DOWN_AFTER_MS = 1000


# The failover tests and the fast drills run on every server installed here: Redis, and Valkey
# where it is (.ci/run installs it); a missing one is skipped, saying so.
SERVERS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            shutil.which(f"{name}-server") is None, reason=f"{name}-server is not installed"
        ),
    )
    for name in servers.NAMES
]


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def pytest_configure(config: pytest.Config) -> None:
    # A run ended by SIGTERM (a CI job's timeout, `kill`) tears its fixtures down as Ctrl-C
    # does: every topology it started is stopped, its namespaces and bridges removed.
    config.stash[_TERM_HANDLER] = signal.signal(signal.SIGTERM, _interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    signal.signal(signal.SIGTERM, config.stash.get(_TERM_HANDLER, signal.SIG_DFL))


def _interrupt(signum: int, frame: object) -> None:
    """The first SIGTERM is Ctrl-C's SIGINT, to whatever handles that now (pytest, or an
    event loop's runner); later ones are ignored, so that they cannot cut the teardown short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.raise_signal(signal.SIGINT)


_TERM_HANDLER = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--compose",
        action="store_true",
        help="also run tests/compose: the Docker Compose deployment in real containers",
    )


def local_spec(run_dir: Path, *, app: bool = False, **overrides: Any) -> TopologySpec:
    """A topology on free ports failing over fast; with the app (`app=True`) or without."""
    ports = free_ports(7)
    fields: dict[str, Any] = {
        "run_dir": run_dir,
        "data_ports": ports[:3],
        "sentinel_ports": ports[3:6],
        "app_port": ports[6] if app else None,
        "down_after_ms": TEST_DOWN_AFTER_MS,
        "failover_timeout_ms": 5000,
        "app_key_prefix": "*",  # each test's keys have a prefix of their own
    }
    return TopologySpec(**{**fields, **overrides})


@contextmanager
def running(run_dir: Path, **overrides: Any) -> Iterator[Topology]:
    """A topology for a module's or the session's tests that do not break it."""
    started = Topology.up(local_spec(run_dir, **overrides))
    try:
        yield started
    finally:
        started.down()


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """One topology for the tests that do not break it; each test keeps to its own keys."""
    with running(tmp_path_factory.mktemp("shared")) as shared:
        yield shared


@pytest.fixture
def make_topology(tmp_path: Path) -> Iterator[Callable[..., Topology]]:
    """Topologies of a test's own, for tests that kill nodes; all stopped at teardown."""
    started: list[Topology] = []

    def create(**overrides: Any) -> Topology:
        topology = Topology.up(local_spec(tmp_path / f"topology-{len(started)}", **overrides))
        started.append(topology)
        return topology

    yield create
    for topology in started:
        topology.down()
        assert not topology.running(), "a process outlived its test"


@pytest.fixture
def settings(topology: Topology) -> Settings:
    return settings_for(topology, key_prefix=f"test-{uuid.uuid4().hex[:12]}:", failover_deadline=5)


@pytest.fixture
async def make_store(settings: Settings) -> AsyncIterator[Callable[[], MessageStore]]:
    """Stores with clients of their own, as separate app processes would have."""
    clients: list[RedisHA] = []

    def create() -> MessageStore:
        redis = RedisHA(settings.ha_config())
        clients.append(redis)
        return MessageStore(redis, key_prefix=settings.key_prefix)

    yield create
    for redis in clients:
        await redis.aclose()


@pytest.fixture
def store(make_store: Callable[[], MessageStore]) -> MessageStore:
    return make_store()


@pytest.fixture
async def master(topology: Topology) -> AsyncIterator[Redis]:
    """An admin's client of the current master, to look behind the store's back."""
    node = topology.node(topology.master_name() or "")
    async with Redis(host=node.host, port=node.port, password=topology.password(node)) as client:
        yield client


@pytest.fixture
def replica_address(topology: Topology) -> Address:
    master = topology.master_name()
    replica = next(node for node in topology.data_nodes if node.name != master)
    return (topology.spec.host, replica.port)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Address, Address]]:
    """A master and its replica with no sentinel watching, for a test to swap by hand."""
    spec = local_spec(tmp_path)  # its ports chosen together: never one twice
    first, second = spec.data_nodes[:2]
    server = servers.find(spec.server)
    pids = []
    for node, master in ((first, None), (second, first)):
        node.dir.mkdir(parents=True)
        node.config_path.write_text(render.redis_conf(spec, node, master, None))
        pids.append(
            process.spawn(
                server.argv(node.config_path),
                workdir=node.dir,
                pid_path=node.pid_path,
                log_path=node.log_path,
            )
        )
    try:
        # Linked, and counted by the master as a good replica (min-replicas-to-write): it is
        # only once the replica's first acknowledgement arrives, up to a second later.
        wait_until(
            lambda: (
                probe.info(spec.host, first.port, "replication").get("min_slaves_good_slaves") == 1
            ),
            timeout=10,
        )
        yield (spec.host, first.port), (spec.host, second.port)
    finally:
        for pid in pids:
            process.stop(pid)

"""One compose project of the board for the module, on a Docker engine: real containers.

`make compose-test` runs these (`pytest --compose tests/compose`). The engine is the one that
answers, or one started here and stopped at the end; the images are the official ones when
Docker Hub answers, else built from Debian's packages (the base image cached outside the
checkout). Everything the project made is removed at the end, pass or fail.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from sentinel_board.compose import engine, images, own
from sentinel_board.compose.engine import docker
from sentinel_board.compose.own import own_project
from sentinel_board.compose.project import Project
from sentinel_board.drills.workload import Record, Workload
from sentinel_board.topology.deploy import COMPOSE_DATA_HOSTS, COMPOSE_SENTINEL_HOSTS
from tests.helpers import wait_until, wait_until_async

ROOT = Path(__file__).resolve().parents[2]
DOWN_AFTER = 1.0  # seconds: the deployment's down-after-milliseconds, to fail over fast
SETTLE_WITHIN = 60.0


@pytest.fixture(scope="session")
def docker_engine(request: pytest.FixtureRequest) -> Iterator[None]:
    """An engine for the session: the one that answers, or one started here and stopped at
    the end, its bridges and firewall rules removed (the session fails if any is left)."""
    if not request.config.getoption("--compose"):
        pytest.skip("the compose tests run with `make compose-test` (pytest --compose)")
    if engine.server_version() is None and (why := engine.may_start()) is not None:
        pytest.skip(f"no Docker engine answers, and {why}")
    started = engine.ensure("tests")
    if started is not None:
        _say(request)(f"Started a Docker engine for these tests (dockerd, pid {started.pid})")
    yield
    if started is not None:
        engine.stop(started)
        assert not engine.leftovers(started), "the engine left these behind"


@pytest.fixture(scope="module")
def project(request: pytest.FixtureRequest, docker_engine: None) -> Iterator[Project]:
    # Removed at the end, pass or fail; anything left behind (a container, a volume, the
    # network) fails the test.
    with own_project(
        ROOT, owner="tests", server=images.server_choice(),
        down_after_ms=int(DOWN_AFTER * 1000), say=_say(request),
    ) as running:  # fmt: skip
        yield running


def _say(request: pytest.FixtureRequest) -> Callable[[str], None]:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    assert reporter is not None and capture is not None

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():  # past pytest's capture, to the terminal
            reporter.write_line(f"compose: {line}")

    return say


@pytest.fixture
def say(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """A line to the terminal, whatever pytest captures: the figures of a run."""
    return _say(request)


def settle(project: Project) -> None:
    own.settle(project, SETTLE_WITHIN)


@asynccontextmanager
async def load(project: Project, prefix: str) -> AsyncIterator[Workload]:
    """Writers (each message acknowledged after WAIT, retried with its key on 503), readers
    and a flusher through the published port, as a user's clients would be."""
    async with httpx.AsyncClient(base_url=project.url, timeout=30) as client:
        workload = Workload(client, prefix=f"{prefix}-")
        try:
            await wait_until_async(lambda: len(workload.record.acked) >= 10, 30)
            yield workload
        finally:
            await workload.stop()


def stored(project: Project, node: str) -> list[str] | None:
    """The messages in UNREAD then READ on one data node, or None if it does not answer."""
    lists = [project.ask(node, "LRANGE", key, 0, -1, timeout=5) for key in ("UNREAD", "READ")]
    if None in lists:
        return None
    return [json.loads(raw)["message"] for raw in lists[0] + lists[1]]


def assert_kept(project: Project, record: Record, prefix: str) -> None:
    """Every acknowledged write stored exactly once, the same on every data node."""
    settle(project)
    views: list[list[str] | None] = []

    def identical() -> bool:
        views[:] = [stored(project, node) for node in COMPOSE_DATA_HOSTS]
        return None not in views and all(view == views[0] for view in views)

    wait_until(identical, 20)
    mine = [message for message in views[0] or [] if message.startswith(f"{prefix}-")]
    assert len(record.acked) >= 10, "the workload wrote"
    assert not set(record.acked) - set(mine), "acknowledged writes lost"
    assert not [m for m, n in Counter(mine).items() if n > 1], "messages stored twice"


def logged(project: Project, service: str, text: str, since: float) -> list[float]:
    """When `service` logged lines holding `text`, at or after `since` (Docker's clock)."""
    found = []
    for line in project.logs(service).splitlines():
        stamp, _, rest = line.partition(" ")
        if text in rest:
            # 2026-11-26T05:27:11.655123456Z: to microseconds for datetime.
            when = datetime.fromisoformat(stamp[:26] + "+00:00").timestamp()
            if when >= since:
                found.append(when)
    return found


def switched_after(project: Project, since: float, within: float = 30) -> float:
    """Seconds from `since` to the first +switch-master any sentinel logged after it."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        times = [
            t for s in COMPOSE_SENTINEL_HOSTS for t in logged(project, s, "+switch-master", since)
        ]
        if times:
            return min(times) - since
        time.sleep(0.1)
    raise AssertionError(f"no +switch-master within {within:g} s")


def tilts(project: Project) -> list[str]:
    return [s for s in COMPOSE_SENTINEL_HOSTS if logged(project, s, "+tilt", 0)]


def config(project: Project, service: str) -> str:
    """A node's config as it is on its volume (Sentinel rewrites it)."""
    kind = "sentinel" if service in COMPOSE_SENTINEL_HOSTS else "redis"
    return docker("exec", project.container(service), "cat", f"/data/{kind}.conf").stdout


def in_container_netns(
    project: Project, service: str, *argv: str
) -> subprocess.CompletedProcess[str]:
    """A command of this machine run in the container's network namespace (root only)."""
    pid = project.inspect(service, "{{.State.Pid}}")
    return subprocess.run(
        ["nsenter", "--target", pid, "--net", *argv], capture_output=True, text=True, check=True
    )

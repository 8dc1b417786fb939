"""A compose project of its own, for the tests and the drills, removed with all it made.

Its own name, network (172.29.91-99), published port and rendered configs, beside whatever
`make compose-up` runs; on the engine that answers, or on one started for it and stopped after.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sentinel_board.compose import engine, images
from sentinel_board.compose.engine import EngineError
from sentinel_board.compose.project import Project, free_net, wait
from sentinel_board.topology import deploy, render
from sentinel_board.topology.ports import free_port

SETTLE_WITHIN = 120.0


@contextmanager
def own_project(
    root: Path,
    *,
    owner: str,
    server: str = "redis",
    down_after_ms: int = 3000,
    app_settings: dict[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> Iterator[Project]:
    """A settled project (every node up, sentinels agreeing, the board ready), for `owner`
    (tests, drill). At the end its containers, network and volumes are removed and an engine
    started for it is stopped, pass or fail; what would be left behind is said, and is an
    EngineError when nothing else failed."""
    started = engine.ensure(owner)
    if started is not None:
        say(f"Started a Docker engine (dockerd, pid {started.pid}); it stops at the end")
    project = None
    left: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="sentinel-board-compose-") as directory:
            try:
                project = _up(root, Path(directory), server, down_after_ms, app_settings, say)
                yield project
            finally:
                if project is not None:
                    left += _remove(project)
    finally:
        if started is not None:
            engine.stop(started)
            left += engine.leftovers(started)
        if left:
            say("Left behind: " + "; ".join(left))
    if left:
        raise EngineError("left behind: " + "; ".join(left))


def _up(
    root: Path,
    directory: Path,
    server: str,
    down_after_ms: int,
    app_settings: dict[str, str] | None,
    say: Callable[[str], None],
) -> Project:
    built = images.build(root, say, server)
    out = directory / deploy.COMPOSE_OUT
    spec = deploy.compose_deployment(out, down_after_ms=down_after_ms)
    deploy.render_all(spec, deploy.COMPOSE_SECRETS)
    if app_settings:
        with (out / "app.env").open("a") as settings:
            settings.write(render.env_file(app_settings))
    env = {
        **built.compose_env(),
        "SENTINEL_BOARD_NET": free_net(),
        "SENTINEL_BOARD_PUBLISH": f"127.0.0.1:{free_port()}",
    }
    project = Project(root, directory, name=f"sbown{uuid.uuid4().hex[:8]}", env=env)
    try:
        project.up()
        settle(project)
    except BaseException:
        _remove(project)
        raise
    return project


def settle(project: Project, within: float = SETTLE_WITHIN) -> None:
    """Every node up, the sentinels agreeing, the replicas linked, the board ready."""
    wait(f"project {project.name} settling", lambda: project.settled() and project.ready(), within)


def _remove(project: Project) -> list[str]:
    """Down with its volumes; what is still there after (a failed `down` included)."""
    try:
        project.down(volumes=True)
    except EngineError as error:
        return [f"{project.name}: {error}"]
    return project.leftovers()

"""`sentinel-board compose up|down`: the Docker Compose deployment, from nothing to serving."""

from __future__ import annotations

from pathlib import Path

import click

from sentinel_board.compose import engine, images
from sentinel_board.compose.engine import EngineError
from sentinel_board.compose.project import Project, wait
from sentinel_board.terminal import console, friendly_errors
from sentinel_board.topology import deploy

READY_WITHIN = 180.0


def _project() -> Project:
    root = Path.cwd()
    if not (root / "compose.yaml").exists():
        raise EngineError(
            f"no compose.yaml in {root}", "run it from the sentinel-board checkout (make does)"
        )
    return Project(root, root)


@click.group()
def compose() -> None:
    """The Docker Compose deployment (compose.yaml), on an engine started if need be."""


@compose.command()
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option(
    "--server", type=click.Choice(list(images.SERVERS)), default="redis", show_default=True,
    envvar="SENTINEL_BOARD_SERVER", help="The nodes' server (also SENTINEL_BOARD_SERVER).",
)  # fmt: skip
@friendly_errors
def up(down_after_ms: int, server: str) -> None:
    """Render the configs if missing, make sure an engine answers, build, start, wait.

    --down-after-ms applies when the configs are rendered (a first start, or after --purge).
    """
    project = _project()
    if not (project.out / "redis-1.conf").exists():
        spec = deploy.compose_deployment(project.out, down_after_ms=down_after_ms)
        deploy.render_all(spec, deploy.COMPOSE_SECRETS)
        console.print(f"Rendered the configs into {project.out} (only you may enter it)")
    started = engine.ensure()
    if started is not None:
        console.print(
            f"Started a Docker engine (dockerd, pid {started.pid}); `make compose-down` stops it"
        )
    built = images.build(project.root, console.print, server)
    project.env = built.compose_env()
    project.up()
    with console.status("Waiting for the board to answer /readyz..."):
        wait("the board's /readyz", project.ready, READY_WITHIN)
    console.print(f"\nThe board: [bold]{project.url}[/bold]")
    console.print("Stop it with: make compose-down (ARGS=--purge also deletes the data)")


@compose.command()
@click.option("--purge", is_flag=True, help="Also delete the data volumes.")
@friendly_errors
def down(purge: bool) -> None:
    """Stop and remove the project; stop the engine `up` started, and undo its changes."""
    project = _project()
    if engine.server_version() is None:
        console.print("No Docker engine answers: nothing of the project runs.")
    else:
        project.down(volumes=purge)
        removed = "the containers, the network and the volumes" if purge else "the containers"
        console.print(f"Removed {removed} of project {project.name}.")
    started = engine.recorded()
    if started is not None:
        engine.stop(started)
        console.print(
            f"Stopped the Docker engine we started (pid {started.pid}) and removed its "
            "bridges and firewall rules."
        )

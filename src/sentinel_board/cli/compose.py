"""`sentinel-board compose up|down`: the Docker Compose deployment, from nothing to serving.

`up` writes what it chose (the images, the server, the project's name) into `.env` beside
compose.yaml, which Compose reads by itself: `docker compose ps`, `logs` or `up -d` by hand
then act on the same project with the same images.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from sentinel_board.cli.terminal import console, friendly_errors
from sentinel_board.compose import engine, images, machine
from sentinel_board.compose.engine import EngineError, docker
from sentinel_board.compose.project import PROJECT, Project, wait
from sentinel_board.topology import deploy, render

READY_WITHIN = 180.0
ENV_MARK = "# Written by `sentinel-board compose up`: what it chose. Compose reads it.\n"
OWNER = "compose up"


def _project() -> Project:
    root = Path.cwd()
    if not (root / "compose.yaml").exists():
        raise EngineError(
            f"no compose.yaml in {root}", "run it from the sentinel-board checkout (make does)"
        )
    return Project(root, root, name=os.environ.get("COMPOSE_PROJECT_NAME") or PROJECT)


@click.group()
def compose() -> None:
    """The Docker Compose deployment (compose.yaml), on an engine started if need be."""


@compose.command()
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option(
    "--server", type=click.Choice(list(images.SERVERS)), default=None,
    help="The nodes' server (default: SENTINEL_BOARD_SERVER, else redis).",
)  # fmt: skip
@friendly_errors
def up(down_after_ms: int, server: str | None) -> None:
    """Render the configs if missing, make sure an engine answers, build, start, wait.

    --down-after-ms applies when the configs are rendered (a first start, or after --purge).
    """
    project = _project()
    server = server or images.server_choice()
    if not all((project.out / name).exists() for name in _rendered()):
        spec = deploy.compose_deployment(project.out, down_after_ms=down_after_ms)
        deploy.render_all(spec, deploy.COMPOSE_SECRETS)  # keeps the passwords it finds
        console.print(f"Rendered the configs into {project.out} (only you may enter it)")
    started = engine.ensure(OWNER)
    if started is not None:
        console.print(
            f"Started a Docker engine (dockerd, pid {started.pid}); `make compose-down` stops it"
        )
    _check_network(project)
    _check_server(project, server)
    built = images.build(project.root, console.print, server, given=_given())
    project.env = {**built.compose_env(), "SENTINEL_BOARD_SERVER": server}
    _remember(project)
    project.up()
    with console.status("Waiting for the board to answer /readyz..."):
        try:
            wait("the board's /readyz", project.ready, READY_WITHIN)
        except EngineError as error:
            error.hint = f"see what the board says: docker compose -p {project.name} logs app"
            raise
    url = project.url.replace("0.0.0.0", "127.0.0.1")
    console.print(f"\nThe board: [bold]{url}[/bold]")
    console.print("Stop it with: make compose-down (ARGS=--purge also deletes the data)")


def _rendered() -> list[str]:
    """What compose.yaml reads from deploy/compose: configs, settings, the app's passwords."""
    nodes = [*deploy.COMPOSE_DATA_HOSTS, *deploy.COMPOSE_SENTINEL_HOSTS]
    return [f"{node}.conf" for node in nodes] + ["app.env", "redis-password", "sentinel-password"]


def _given() -> dict[str, str]:
    """Images the user chose with compose.yaml's own variables: taken as they are."""
    names = ("SENTINEL_BOARD_SERVER_IMAGE", "SENTINEL_BOARD_APP_BASE")
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def _check_network(project: Project) -> None:
    net = os.environ.get("SENTINEL_BOARD_NET", "172.29.90")
    if project.network in docker("network", "ls", "--format", "{{.Name}}").stdout.split():
        return  # the project's own, from an earlier start
    if (taken := machine.overlaps(f"{net}.0/24")) is not None:
        raise EngineError(
            f"the project's network {net}.0/24 overlaps this machine's network {taken}",
            "choose another with SENTINEL_BOARD_NET, such as SENTINEL_BOARD_NET=172.30.90",
        )


def _check_server(project: Project, server: str) -> None:
    """Valkey reads what Redis wrote, not the other way round: no way back on one volume."""
    was = render.read_env_file(project.root / ".env").get("SENTINEL_BOARD_SERVER")
    label = f"label=com.docker.compose.project={project.name}"
    if (
        was == "valkey"
        and server == "redis"
        and docker("volume", "ls", "-q", "--filter", label).stdout
    ):
        raise EngineError(
            "the project's volumes hold what Valkey wrote, which Redis cannot read",
            "start it with --server valkey, or start over: make compose-down ARGS=--purge",
        )


def _remember(project: Project) -> None:
    env = project.root / ".env"
    if env.exists() and not env.read_text().startswith(ENV_MARK):
        console.print(f"[yellow]Note:[/yellow] {env} is yours, left as it is: by hand, pass "
                      + " ".join(f"{k}={v}" for k, v in project.env.items()))  # fmt: skip
        return
    env.write_text(
        ENV_MARK + render.env_file({"COMPOSE_PROJECT_NAME": project.name, **project.env})
    )


@compose.command()
@click.option("--purge", is_flag=True, help="Also delete the data volumes.")
@friendly_errors
def down(purge: bool) -> None:
    """Stop and remove the project; stop the engine `up` started, and undo its changes."""
    project = _project()
    left: list[str] = []
    if engine.server_version() is None:
        console.print("No Docker engine answers: nothing of the project runs.")
    else:
        project.down(volumes=purge)
        left += project.leftovers(volumes=purge)
        removed = "containers, network and volumes" if purge else "containers and network"
        if not left:
            console.print(f"Removed the {removed} of project {project.name}.")
    started = engine.recorded()
    if started is not None and (started.owner == OWNER or not engine.running(started)):
        engine.stop(started)
        undone = engine.leftovers(started)
        left += undone
        if not undone:
            console.print(
                f"Stopped the Docker engine `compose up` started (pid {started.pid}) and "
                "removed its bridges and firewall rules."
            )
    if left:
        raise EngineError(
            "left behind: " + "; ".join(left), "see `docker ps -a`, `ip link` and `iptables -S`"
        )

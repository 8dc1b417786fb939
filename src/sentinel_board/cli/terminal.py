"""What the `sentinel-board` commands print: one console, a refusal as one line and a hint,
the topology's status table, and bad settings each named."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sentinel_board.config import Settings
from sentinel_board.topology.layout import TopologyError
from sentinel_board.topology.status import NodeStatus, ReplicaStatus, TopologyStatus

F = TypeVar("F", bound=Callable[..., Any])
# A log or a pipe is not an 80-column terminal: give the tables room there.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def misused(message: str, hint: str) -> click.UsageError:
    """A command used wrongly (an unknown name, a missing option, a bad combination): exit 2
    with click's usage message, as its own errors do, and a hint; exit 1 is for failures."""
    return click.UsageError(f"{message}\nHint: {hint}", click.get_current_context())


def friendly_errors(command: F) -> F:
    """A refusal is one line and a hint, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TopologyError as error:
            console.print(f"[red]Error:[/red] {escape(str(error))}")  # it may quote a program
            if error.hint:
                console.print(f"[dim]Hint:[/dim] {escape(error.hint)}")
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def quiet_library_logs() -> None:
    """The HA layer logs to `sentinel_board` (the server configures where); a command that
    reports in its own words keeps those lines off the terminal."""
    logging.getLogger("sentinel_board").addHandler(logging.NullHandler())


def print_status(report: TopologyStatus) -> None:
    """The table `status` and `up` print: what is known, and never a Python None."""
    table = Table(title=f"master set {report.master_name}", title_justify="left")
    for column in ("node", "address", "pid", "role", "state"):
        table.add_column(column, no_wrap=column != "state")

    def row(item: NodeStatus, state: str) -> None:
        alive = state if item.alive else "[red]down[/red]"
        pid = str(item.pid) if item.pid else "-"
        table.add_row(item.name, f"{item.host}:{item.port}", pid, item.role, alive)

    if report.master:
        row(report.master, "[green]up[/green]")
    for replica in report.replicas:
        row(replica, _replica_state(report, replica))
    for sentinel in report.sentinels:
        row(sentinel, f"names {sentinel.names_master or 'nothing'}")
    if report.app:
        app = report.app
        state = "[green]up[/green]" if app.alive else "[red]down[/red]"
        table.add_row("app", app.url, str(app.pid or "-"), "board", state)
    console.print(table)
    for heard in (report.app.listener if report.app else None) or []:
        if heard["error"]:
            console.print(
                f"[red]The app does not hear sentinel {heard['sentinel']}:[/red] "
                + escape(heard["error"])
            )
    if report.app and report.app.health:  # the same as its status page and /api/status say
        health = report.app.health
        colour = {"ok": "green", "degraded": "yellow", "down": "red"}[health["state"]]
        console.print(f"The board's health: [{colour}]{health['state']}[/{colour}]")
        for problem in health["problems"]:
            console.print(f"  - {escape(problem)}")
    if report.disagreement:
        console.print(
            f"[yellow]The sentinels disagree:[/yellow] {escape(report.disagreement)}. The "
            "master above is the one most name; a failover may be under way: ask again soon."
        )
    if report.master is None:
        console.print("[red]No master:[/red] no sentinel answers and no node says it is master.")
    elif report.master_source == "role":
        console.print("[yellow]No sentinel answers:[/yellow] the master by its own ROLE.")
    quorum = "[green]reachable[/green]" if report.quorum_ok else "[red]NOT reachable[/red]"
    console.print(f"Quorum: {quorum}")
    if report.tls:
        console.print("TLS: [green]on[/green] (CA in tls/ca.crt of the run dir)")
    if report.auth:
        secrets = Path(report.run_dir) / "secrets.json"
        console.print(f"Auth: [green]on[/green] (passwords in {secrets}, readable by you only)")
    else:
        console.print(
            "Auth: [red]OFF[/red]: any local process can read and write Redis (--no-auth)"
        )


def _replica_state(report: TopologyStatus, replica: ReplicaStatus) -> str:
    if replica.reports_role == "master":
        naming = report.named.get(replica.name)
        if naming:
            return f"[yellow]says master, and {', '.join(naming)} name it master[/yellow]"
        return "[yellow]back, still says master: Sentinel will make it a replica[/yellow]"
    if replica.offset is None:  # the master does not answer, or does not list it yet
        return f"link {replica.link}, offset unknown"
    lag = f", lag {replica.lag} s" if replica.lag is not None else ""
    return f"link {replica.link}, offset {replica.offset}{lag}"


def settings_or_exit() -> Settings:
    """The settings from the environment, or each bad variable named and exit 2."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            field = "_".join(map(str, problem["loc"])).upper()
            # A check across settings (loc empty) names its variables itself.
            where = f"SENTINEL_BOARD_{field}: " if field else ""
            message = problem["msg"].removeprefix("Value error, ")
            console.print(f"[red]Error:[/red] {escape(where + message)}")
        console.print("[dim]Hint:[/dim] see the Settings table in the README")
        sys.exit(2)

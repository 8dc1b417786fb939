"""The local topology's commands: up, down, status, kill, start and watch."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from datetime import datetime
from pathlib import Path

import click

from sentinel_board.cli.defaults import WORKERS, WORKERS_HELP
from sentinel_board.cli.terminal import (
    console,
    friendly_errors,
    print_status,
    quiet_library_logs,
    settings_or_exit,
)
from sentinel_board.extras import require
from sentinel_board.ha import ListenerState, sentinel_events
from sentinel_board.topology import Topology, TopologySpec, faults, process
from sentinel_board.topology.launcher import SentinelAccess, purge_left_by_a_refused_up
from sentinel_board.topology.layout import consecutive, majority
from sentinel_board.topology.status import ask_the_app, collect

SIGNALS = ("KILL", "TERM", "STOP", "CONT")

run_dir_option = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".sentinel-board"),
    show_default=True,
    help="Where the topology keeps configs, data, logs and pid files.",
)


@click.command()
@run_dir_option
@click.option("--detach", is_flag=True, help="Start, print the topology and return.")
@click.option("--port-base", default=6380, show_default=True, help="First data node port.")
@click.option("--sentinel-port-base", default=26380, show_default=True, help="First sentinel port.")
@click.option("--app-port", default=8080, show_default=True, help="The board's HTTP port.")
@click.option("--no-app", is_flag=True, help="Start Redis and the sentinels only.")
@click.option("--replicas", default=2, show_default=True, type=click.IntRange(0, 10))
@click.option("--sentinels", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option("--quorum", type=click.IntRange(1, 9), help="Default: a majority of the sentinels.")
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option("--failover-timeout-ms", default=10000, show_default=True, type=click.IntRange(1000))
@click.option(
    "--server", "--redis-server", default="redis", show_default=True,
    help="The nodes' server: redis, valkey (their binaries on PATH), or a server binary's path.",
)  # fmt: skip
@click.option("--workers", default=WORKERS, type=click.IntRange(1, 64), help=WORKERS_HELP)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="The app's log (app/log in the run dir).",
)
@click.option(
    "--tls",
    is_flag=True,
    help="TLS only, for clients, replication and sentinels, with a CA generated into the run dir.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="No passwords and no ACL users (the default generates them into the run dir).",
)
@click.option(
    "--key-prefix",
    default="",
    help="The app's ACL user may touch only keys under this prefix (SENTINEL_BOARD_KEY_PREFIX).",
)
@friendly_errors
def up(
    run_dir: Path,
    detach: bool,
    port_base: int,
    sentinel_port_base: int,
    app_port: int,
    no_app: bool,
    replicas: int,
    sentinels: int,
    quorum: int | None,
    down_after_ms: int,
    failover_timeout_ms: int,
    server: str,
    workers: int,
    log_format: str,
    tls: bool,
    no_auth: bool,
    key_prefix: str,
) -> None:
    """Start a master, replicas, sentinels and the board on 127.0.0.1."""
    if tls:
        require("tls")  # before anything starts
    spec = TopologySpec(
        data_ports=consecutive(port_base, 1 + replicas),
        sentinel_ports=consecutive(sentinel_port_base, sentinels),
        run_dir=run_dir,
        app_port=None if no_app else app_port,
        quorum=quorum or majority(sentinels),
        down_after_ms=down_after_ms,
        failover_timeout_ms=failover_timeout_ms,
        server=server,
        workers=workers,
        log_format=log_format,
        auth=not no_auth,
        tls=tls,
        app_key_prefix=key_prefix,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)  # stopped like Ctrl-C: by pid, cleanly
    try:
        with console.status("Starting Redis, the sentinels and the board..."):
            topology = Topology.up(spec)
    except KeyboardInterrupt:
        console.print("Interrupted: stopped what had started.")
        sys.exit(130)
    # From here on, a Ctrl-C (or SIGTERM) at any moment stops everything: none is left behind.
    detached = False
    try:
        print_status(collect(topology))
        for option, (was, now) in topology.live_changes.items():
            console.print(f"Changed on every sentinel (SENTINEL SET): {option} {was} -> {now}")
        if spec.app_url:
            console.print(f"\nThe board: [bold]{spec.app_url}[/bold]")
        if detach:
            console.print(f"Stop it with: sentinel-board down --run-dir {run_dir}")
            detached = True
            return
        asyncio.run(
            _follow_until_signalled(
                topology.sentinel_addresses,
                topology.sentinel_options,
                as_json=False,
                ready="Sentinel events follow. Ctrl-C stops everything.\n",
            )
        )
    except KeyboardInterrupt:
        pass  # Ctrl-C before the event loop took over the signals
    finally:
        if not detached:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it short
            with console.status("Stopping..."):
                stopped = topology.down()
            console.print(f"Stopped {len(stopped)} processes.")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _follow_until_signalled(
    sentinels: list[tuple[str, int]], connect: SentinelAccess, as_json: bool, ready: str = ""
) -> None:
    """`ready`: said once Ctrl-C and SIGTERM are this loop's to handle. Said before, a Ctrl-C
    right after it could come while asyncio was taking the signals over, and be lost (seen
    once in CI: `up` went on listening)."""
    quiet_library_logs()  # what the listener would log, this command prints its own way
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    if ready:
        console.print(ready)
    printer = asyncio.create_task(_print_events(sentinels, connect, as_json))
    await stop.wait()
    printer.cancel()
    await asyncio.gather(printer, return_exceptions=True)


async def _print_events(
    sentinels: list[tuple[str, int]], connect: SentinelAccess, as_json: bool
) -> None:
    """`connect`: the sentinels' password and TLS CA, as sentinel_events takes them.
    A sentinel that cannot be listened to is said once (on stderr with --json), and again
    when it is heard."""

    def listener(state: ListenerState) -> None:
        if as_json:
            click.echo(json.dumps({"listener": dataclasses.asdict(state)}), err=True)
        elif state.listening:
            console.print(f"[green]Hearing sentinel {state.sentinel} again.[/green]")
        else:
            console.print(f"[red]Not hearing sentinel {state.sentinel}:[/red] {state.error}")

    async for event in sentinel_events(sentinels, **connect, on_change=listener):
        if as_json:
            click.echo(json.dumps(dataclasses.asdict(event)), nl=True)
            sys.stdout.flush()
            continue
        when = datetime.fromtimestamp(event.received_at).strftime("%H:%M:%S.%f")[:-3]
        console.print(f"[dim]{when}[/dim] [bold]{event.type}[/bold] {event.payload}")


@click.command()
@run_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event and line.")
@friendly_errors
def watch(run_dir: Path, as_json: bool) -> None:
    """Print Sentinel's events as they happen, reported once though every sentinel sends them.

    The sentinels of the topology in --run-dir, or else those of SENTINEL_BOARD_SENTINELS.
    """
    connect: SentinelAccess
    if (run_dir / "topology.json").exists():
        topology = Topology.open(run_dir)
        sentinels = topology.sentinel_addresses
        connect = topology.sentinel_options
    else:
        settings = settings_or_exit()
        secret = settings.sentinel_password
        sentinels = settings.sentinels
        connect = {
            "password": secret.get_secret_value() if secret else None,
            "tls_ca": settings.tls_ca_file,
        }
    listed = ", ".join(f"{h}:{p}" for h, p in sentinels)
    ready = "" if as_json else f"Listening to {listed}. Ctrl-C stops."
    asyncio.run(_follow_until_signalled(sentinels, connect, as_json, ready))


@click.command()
@run_dir_option
@click.option("--purge", is_flag=True, help="Also delete the run dir: configs, data and logs.")
@friendly_errors
def down(run_dir: Path, purge: bool) -> None:
    """Stop what `up --detach` started, by its pid files."""
    if not (run_dir / "topology.json").exists():
        if purge and purge_left_by_a_refused_up(run_dir):
            console.print(f"Nothing was running. Removed {run_dir.absolute()} (a refused up's).")
            return
        console.print(f"Nothing was running: no topology in {run_dir.absolute()}.")
        return
    topology = Topology.open(run_dir)
    stopped = topology.down(purge=purge)
    if stopped:
        console.print("Stopped " + ", ".join(n.name for n in stopped) + ".")
    else:
        console.print("Nothing was running.")
    if purge:
        console.print(f"Removed {topology.spec.run_dir}.")


@click.command()
@run_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@friendly_errors
def status(run_dir: Path, as_json: bool) -> None:
    """The topology as the sentinels see it now."""
    report = collect(Topology.open(run_dir))
    if report.app and report.app.alive:
        ask_the_app(report.app)
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    else:
        print_status(report)


@click.command()
@click.argument("role", type=click.Choice(["master", "replica", "sentinel"]))
@click.option("--index", default=1, show_default=True, type=click.IntRange(1), help="Which one.")
@click.option("--signal", "sig", default="KILL", show_default=True, type=click.Choice(SIGNALS))
@run_dir_option
@friendly_errors
def kill(role: str, index: int, sig: str, run_dir: Path) -> None:
    """Send a signal to whichever node has ROLE now."""
    topology = Topology.open(run_dir)
    # CONT wakes the node STOP froze: after a failover, the master it was is one no longer.
    master = topology.master_name() if sig == "CONT" and role == "master" else None
    node = faults.kill(topology, role, index, signal.Signals[f"SIG{sig}"])
    pid = process.read_pid(node.pid_path)  # the pid file outlives the process until `down`
    what = f"the {role}"
    if master is not None and master != node.name:
        what = f"stopped, no longer the master: {master} is"
    console.print(f"Sent SIG{sig} to {node.name} ({what}, port {node.port}, pid {pid}).")


@click.command()
@click.argument("node")
@run_dir_option
@friendly_errors
def start(node: str, run_dir: Path) -> None:
    """Bring a stopped node back with its own config file."""
    started = Topology.open(run_dir).start(node)
    console.print(f"Started {started.name} on port {started.port} from {started.config_path}.")

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from sentinel_board.compose.commands import compose
from sentinel_board.config import Settings, refused
from sentinel_board.ha import ListenerState, sentinel_events
from sentinel_board.terminal import console, friendly_errors
from sentinel_board.topology import Topology, TopologyError, TopologySpec, faults, process
from sentinel_board.topology.status import collect

if TYPE_CHECKING:
    from sentinel_board.drills.options import EnduranceOptions

SIGNALS = ("KILL", "TERM", "STOP", "CONT")

run_dir_option = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".sentinel-board"),
    show_default=True,
    help="Where the topology keeps configs, data, logs and pid files.",
)


@click.group()
@click.version_option(package_name="sentinel-board")
def main() -> None:
    """A message board on Redis with Sentinel high availability."""


main.add_command(compose)


@main.command()
@run_dir_option
@click.option("--detach", is_flag=True, help="Start, print the topology and return.")
@click.option("--port-base", default=6380, show_default=True, help="First data node port.")
@click.option("--sentinel-port-base", default=26380, show_default=True, help="First sentinel port.")
@click.option("--app-port", default=8080, show_default=True, help="The board's HTTP port.")
@click.option("--no-app", is_flag=True, help="Start Redis and the sentinels only.")
@click.option("--replicas", default=2, show_default=True, type=click.IntRange(0, 10))
@click.option("--sentinels", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option("--quorum", default=2, show_default=True, type=click.IntRange(1, 9))
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option("--failover-timeout-ms", default=10000, show_default=True, type=click.IntRange(1000))
@click.option(
    "--server", "--redis-server", default="redis", show_default=True,
    help="The nodes' server: redis, valkey (their binaries on PATH), or a server binary's path.",
)  # fmt: skip
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
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
    quorum: int,
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
    spec = TopologySpec.from_bases(
        port_base=port_base,
        sentinel_port_base=sentinel_port_base,
        replicas=replicas,
        sentinels=sentinels,
        run_dir=run_dir,
        app_port=None if no_app else app_port,
        quorum=quorum,
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
        if spec.app_url:
            console.print(f"\nThe board: [bold]{spec.app_url}[/bold]")
        if detach:
            console.print(f"Stop it with: sentinel-board down --run-dir {run_dir}")
            detached = True
            return
        console.print("Sentinel events follow. Ctrl-C stops everything.\n")
        asyncio.run(
            _follow_until_signalled(
                topology.sentinel_addresses,
                topology.sentinel_options,
                as_json=False,
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


def _quiet_library_logs() -> None:
    """The HA layer logs to `sentinel_board` (the server configures where); a command that
    reports in its own words keeps those lines off the terminal."""
    logging.getLogger("sentinel_board").addHandler(logging.NullHandler())


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


async def _follow_until_signalled(
    sentinels: list[tuple[str, int]], connect: dict[str, Any], as_json: bool
) -> None:
    _quiet_library_logs()  # what the listener would log, this command prints its own way
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    printer = asyncio.create_task(_print_events(sentinels, connect, as_json))
    await stop.wait()
    printer.cancel()
    await asyncio.gather(printer, return_exceptions=True)


async def _print_events(
    sentinels: list[tuple[str, int]], connect: dict[str, Any], as_json: bool
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


@main.command()
@run_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event and line.")
@friendly_errors
def watch(run_dir: Path, as_json: bool) -> None:
    """Print Sentinel's events as they happen, reported once though every sentinel sends them.

    The sentinels of the topology in --run-dir, or else those of SENTINEL_BOARD_SENTINELS.
    """
    connect: dict[str, Any]
    if (run_dir / "topology.json").exists():
        topology = Topology.open(run_dir)
        sentinels = topology.sentinel_addresses
        connect = topology.sentinel_options
    else:
        settings = _settings_or_exit()
        secret = settings.sentinel_password
        sentinels = settings.sentinels
        connect = {
            "password": secret.get_secret_value() if secret else None,
            "tls_ca": settings.tls_ca_file,
        }
    if not as_json:
        listed = ", ".join(f"{h}:{p}" for h, p in sentinels)
        console.print(f"Listening to {listed}. Ctrl-C stops.")
    asyncio.run(_follow_until_signalled(sentinels, connect, as_json))


@main.command()
@run_dir_option
@click.option("--purge", is_flag=True, help="Also delete the run dir: configs, data and logs.")
@friendly_errors
def down(run_dir: Path, purge: bool) -> None:
    """Stop what `up --detach` started, by its pid files."""
    if not (run_dir / "topology.json").exists():
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


@main.command()
@run_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@friendly_errors
def status(run_dir: Path, as_json: bool) -> None:
    """The topology as the sentinels see it now."""
    report = collect(Topology.open(run_dir))
    if report["app"] and report["app"]["alive"]:
        report["app"]["listener"] = _app_listener(report["app"]["url"])
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        print_status(report)


def _app_listener(url: str) -> list[dict[str, Any]] | None:
    """Whether the app hears each sentinel's events, from its /api/status; None if it does
    not say."""
    try:
        answer = httpx.get(f"{url}/api/status", timeout=3)
        listener: list[dict[str, Any]] = answer.json()["app"]["listener"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    return listener


def print_status(report: dict[str, Any]) -> None:
    table = Table(title=f"master set {report['master_name']}", title_justify="left")
    for column in ("node", "address", "pid", "role", "state"):
        table.add_column(column, no_wrap=column != "state")

    def row(item: dict[str, Any], state: str) -> None:
        alive = state if item["alive"] else "[red]down[/red]"
        pid = str(item["pid"]) if item["pid"] else "-"
        table.add_row(item["name"], f"{item['host']}:{item['port']}", pid, item["role"], alive)

    if report["master"]:
        row(report["master"], "[green]up[/green]")
    for item in report["replicas"]:
        lag = f", lag {item['lag']} s" if item["lag"] is not None else ""
        state = f"link {item['link']}, offset {item['offset']}{lag}"
        if item["reports_role"] == "master":
            state = "[yellow]back, still says master: Sentinel will make it a replica[/yellow]"
        row(item, state)
    for item in report["sentinels"]:
        row(item, f"names {item['names_master'] or 'nothing'}")
    if report["app"]:
        app = report["app"]
        state = "[green]up[/green]" if app["alive"] else "[red]down[/red]"
        table.add_row("app", app["url"], str(app["pid"] or "-"), "board", state)
    console.print(table)
    for heard in (report["app"] or {}).get("listener") or []:
        if heard["error"]:
            console.print(
                f"[red]The app does not hear sentinel {heard['sentinel']}:[/red] {heard['error']}"
            )
    if report["master"] is None:
        console.print("[red]No master:[/red] no sentinel answers and no node says it is master.")
    elif report["master_source"] == "role":
        console.print("[yellow]No sentinel answers:[/yellow] the master by its own ROLE.")
    quorum = "[green]reachable[/green]" if report["quorum_ok"] else "[red]NOT reachable[/red]"
    console.print(f"Quorum: {quorum}")
    if report["tls"]:
        console.print("TLS: [green]on[/green] (CA in tls/ca.crt of the run dir)")
    if report["auth"]:
        secrets = Path(report["run_dir"]) / "secrets.json"
        console.print(f"Auth: [green]on[/green] (passwords in {secrets}, readable by you only)")
    else:
        console.print(
            "Auth: [red]OFF[/red]: any local process can read and write Redis (--no-auth)"
        )


@main.command()
@click.argument("role", type=click.Choice(["master", "replica", "sentinel"]))
@click.option("--index", default=1, show_default=True, type=click.IntRange(1), help="Which one.")
@click.option("--signal", "sig", default="KILL", show_default=True, type=click.Choice(SIGNALS))
@run_dir_option
@friendly_errors
def kill(role: str, index: int, sig: str, run_dir: Path) -> None:
    """Send a signal to whichever node has ROLE now."""
    node = faults.kill(Topology.open(run_dir), role, index, signal.Signals[f"SIG{sig}"])
    pid = process.read_pid(node.pid_path)  # the pid file outlives the process until `down`
    console.print(f"Sent SIG{sig} to {node.name} (the {role}, port {node.port}, pid {pid}).")


@main.command()
@click.argument("node")
@run_dir_option
@friendly_errors
def start(node: str, run_dir: Path) -> None:
    """Bring a stopped node back with its own config file."""
    started = Topology.open(run_dir).start(node)
    console.print(f"Started {started.name} on port {started.port} from {started.config_path}.")


@main.command("render-config")
@click.option(
    "--hosts",
    help="The data nodes, host[:port] separated by commas; the first starts as master.",
)
@click.option(
    "--sentinel-hosts",
    help="The sentinels, host[:port] separated by commas (default: one beside each data node).",
)
@click.option("--port", default=6379, show_default=True, help="Data node port when not given.")
@click.option("--sentinel-port", default=26379, show_default=True, help="Sentinel port, ditto.")
@click.option(
    "--dir", "node_dir", default="/data", show_default=True,
    type=click.Path(path_type=Path), help="Where each node keeps its data and config, there.",
)  # fmt: skip
@click.option(
    "--bind",
    default="",
    help="What every node listens on, separated by spaces "
    "(default: its address; every interface when it is a name).",
)
@click.option("--quorum", type=click.IntRange(1), help="Default: a majority of the sentinels.")
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option("--failover-timeout-ms", default=10000, show_default=True, type=click.IntRange(1000))
@click.option("--master-name", default="mymaster", show_default=True)
@click.option("--no-auth", is_flag=True, help="No passwords and no ACL users.")
@click.option("--key-prefix", default="", help="The app's keys, and all its ACL user may touch.")
@click.option(
    "--compose", is_flag=True,
    help="For compose.yaml: the hosts are its services, the files go to deploy/compose.",
)  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where to write.")
@friendly_errors
def render_config(
    hosts: str | None,
    sentinel_hosts: str | None,
    port: int,
    sentinel_port: int,
    node_dir: Path,
    bind: str,
    quorum: int | None,
    down_after_ms: int,
    failover_timeout_ms: int,
    master_name: str,
    no_auth: bool,
    key_prefix: str,
    compose: bool,
    out: Path | None,
) -> None:
    """Redis, Sentinel and app configs for nodes on other machines or in containers."""
    from sentinel_board.topology import deploy

    if compose:
        hosts = hosts or ",".join(deploy.COMPOSE_DATA_HOSTS)
        sentinel_hosts = sentinel_hosts or ",".join(deploy.COMPOSE_SENTINEL_HOSTS)
        out = out or deploy.COMPOSE_OUT
    if not hosts or out is None:
        raise TopologyError(
            "--hosts and --out are needed (or --compose)",
            "for example: sentinel-board render-config --hosts 10.0.0.1,10.0.0.2,10.0.0.3 "
            "--out deploy/prod",
        )
    data = deploy.parse_hosts(hosts, port, "--hosts")
    if sentinel_hosts is None:
        sentinels = [(host, sentinel_port) for host, _ in data]
    else:
        sentinels = deploy.parse_hosts(sentinel_hosts, sentinel_port, "--sentinel-hosts")
    spec = deploy.deployment(
        data, sentinels, out,
        node_dir=node_dir, bind=tuple(bind.split()), quorum=quorum,
        down_after_ms=down_after_ms, failover_timeout_ms=failover_timeout_ms,
        master_name=master_name, auth=not no_auth, app_key_prefix=key_prefix,
    )  # fmt: skip
    written = deploy.render_all(spec, deploy.COMPOSE_SECRETS if compose else None)
    table = Table("file", "for", title=f"Written to {out} (only you may enter it: passwords)")
    roles = ["master at first"] + ["replica"] * (len(data) - 1) + ["sentinel"] * len(sentinels)
    for node, role in zip([*spec.data_nodes, *spec.sentinel_nodes], roles, strict=True):
        table.add_row(f"{node.name}.conf", f"{node.host}:{node.port} ({role})")
    table.add_row("app.env", "the app: SENTINEL_BOARD_* settings")
    for path in written[len(table.rows) :]:
        if path.name == "secrets.json":
            table.add_row(path.name, "the passwords: rendering again keeps them")
        else:
            table.add_row(path.name, f"the app's, as a Compose secret ({deploy.COMPOSE_SECRETS})")
    console.print(table)
    if compose:
        console.print("Next: docker compose up -d (compose.yaml reads these files)")
    else:
        console.print(
            f"Next: copy each config to its host as {node_dir}/redis.conf or "
            f"{node_dir}/sentinel.conf, writable by Redis (Sentinel rewrites them)"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="json: one object per line, Sentinel's events and failovers with their fields.",
)  # fmt: skip
def serve(host: str, port: int, workers: int, log_level: str, log_format: str) -> None:
    """The web app alone, configured by SENTINEL_BOARD_* environment variables."""
    from sentinel_board.web.server import serve as run

    settings = _settings_or_exit()
    refused = asyncio.run(_credentials_refused(settings))
    if refused:
        console.print(f"[red]Error:[/red] {refused}")
        console.print("[dim]Hint:[/dim] the local topology's are in app.env in its run dir")
        sys.exit(2)
    run(host, port, workers, log_level, "json" if log_format == "json" else "text")


async def _credentials_refused(settings: Settings) -> str | None:
    """Before any worker starts: do the sentinels and the master take our credentials?"""
    from sentinel_board.ha import CredentialsRefused, RedisHA, Unavailable

    redis = RedisHA(replace(settings.ha_config(), failover_deadline=2.0))
    try:
        await redis.read(lambda client: client.ping())
    except CredentialsRefused as error:
        return refused(error)
    except Unavailable:
        pass  # no master yet: the app waits for one, as it does through a failover
    finally:
        await redis.aclose()
    return None


def _settings_or_exit() -> Settings:
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


@main.command()
@click.argument("scenarios", nargs=-1)
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(1, 100))
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option(
    "--failover-deadline", default=10.0, show_default=True, type=click.FloatRange(0.5),
    help="How long the board lets a request wait for a master (s).",
)  # fmt: skip
@click.option(
    "--read-from", type=click.Choice(["master", "replica_preferred"]), default="master",
    show_default=True, help="Where the board reads the count and the page.",
)  # fmt: skip
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write timelines (PNG), index.html, survival.md and drills.json here.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every figure of every run here.",
)
@click.option("--keep", is_flag=True, help="Keep the local topologies' run dirs (configs, logs).")
@click.option(
    "--target", "targets", multiple=True, type=click.Choice(["local", "compose"]),
    help="Where to break things: local (the default: a fresh topology per run on 127.0.0.1) "
    "or compose (the running compose project, else one of the drill's own). Repeatable.",
)  # fmt: skip
@click.option(
    "--server", "chosen_servers", multiple=True,
    help="The nodes' server: redis (the default), valkey, or (local) a binary's path. "
    "Repeatable: each scenario runs on each.",
)  # fmt: skip
@click.option(
    "--fresh", is_flag=True,
    help="With --target compose: a project of the drill's own, even when one runs.",
)  # fmt: skip
@click.option(
    "--faults", default=100, show_default=True, type=click.IntRange(1, 10_000),
    help="endurance: how many faults, in rotation, on one topology and one board.",
)  # fmt: skip
@friendly_errors
def drill(
    scenarios: tuple[str, ...],
    repeat: int,
    down_after_ms: int,
    failover_deadline: float,
    read_from: str,
    report_dir: Path | None,
    json_path: Path | None,
    keep: bool,
    targets: tuple[str, ...],
    chosen_servers: tuple[str, ...],
    fresh: bool,
    faults: int,
) -> None:
    """Break the deployment on purpose, under load, and judge what survived.

    SCENARIOS: any of the names below; none means all of them. `endurance` (alone): one
    topology and one board through --faults faults in rotation, its resources watched.
    """
    from sentinel_board.drills import matrix, report
    from sentinel_board.drills.options import Options
    from sentinel_board.drills.runner import Result
    from sentinel_board.drills.scenarios import SCENARIOS

    _quiet_library_logs()  # the drill's own listener loses the sentinels it kills
    if "endurance" in scenarios:
        from sentinel_board.drills.options import EnduranceOptions

        if len(scenarios) > 1 or repeat > 1 or len(chosen_servers) > 1:
            raise TopologyError(
                "endurance runs alone, once", "sentinel-board drill endurance --faults 100"
            )
        if set(targets) - {"local"}:
            raise TopologyError(
                "endurance runs on the local target only, for now",
                "drop --target compose (its faults go through drills/target.py's Target: a "
                "compose target implements the same)",
            )
        server = chosen_servers[0] if chosen_servers else "redis"
        _endurance(
            EnduranceOptions(
                faults, down_after_ms, failover_deadline, read_from=read_from, server=server
            ),
            report_dir, json_path, keep,
        )  # fmt: skip
        return

    unknown = [name for name in scenarios if name not in SCENARIOS]
    if unknown:
        raise TopologyError(
            f"unknown scenario {', '.join(unknown)}",
            f"choose from: {', '.join(SCENARIOS)}, or endurance (alone)",
        )
    chosen = [SCENARIOS[name] for name in scenarios or SCENARIOS]
    where = targets or ("local",)
    on: tuple[str | None, ...] = chosen_servers or (None,)
    matrix.check(where, on, Path.cwd())
    options = Options(down_after_ms, failover_deadline, read_from)
    runs = len(chosen) * repeat * len(where) * len(on)
    with Progress(console=console) as progress:
        task = progress.add_task("drills", total=runs)

        def done(result: Result) -> None:
            verdict = "[green]pass[/green]" if result.passed else "[red]FAIL[/red]"
            if result.skipped:
                verdict = f"[yellow]{result.skipped}[/yellow]"
            where = f"{result.target}, {result.server}"
            progress.console.print(f"{result.scenario} #{result.repetition} ({where}): {verdict}")
            progress.advance(task)

        results = matrix.run_all(
            chosen, repeat, where, on, options,
            root=Path.cwd(), keep=keep, fresh=fresh, say=progress.console.print, done=done,
        )  # fmt: skip
    console.print(report.table(results))
    _write(
        json_path, lambda path: report.write_json(results, path),
        report_dir, lambda folder: report.write_report(results, folder),
    )  # fmt: skip
    failed = [r for r in results if not r.passed]
    for r in failed:
        console.print(f"[red]{r.scenario} #{r.repetition}:[/red] " + "; ".join(r.failed))
    if failed:
        sys.exit(1)


def _endurance(
    options: EnduranceOptions, report_dir: Path | None, json_path: Path | None, keep: bool
) -> None:
    from sentinel_board.drills import endurance_report
    from sentinel_board.drills.endurance import EnduranceResult, FaultResult, endure
    from sentinel_board.drills.endurance_target import local_target

    def told(fault: FaultResult) -> None:
        verdict = (
            "[green]pass[/green]" if fault.passed else "[red]FAIL[/red]: " + "; ".join(fault.failed)
        )
        console.print(
            f"fault {fault.number}/{options.faults} {fault.kind}: {verdict} "
            f"(write window {fault.write_window_s:.2f} s, {fault.seconds:.1f} s)"
        )

    async def endurance(run_dir: Path) -> EnduranceResult:
        async with local_target(run_dir, options) as target:
            return await endure(target, options, told)

    work_dir = Path(tempfile.mkdtemp(prefix="sentinel-board-endurance-"))
    try:
        result = asyncio.run(endurance(work_dir / "topology"))
    finally:
        if keep:
            console.print(f"Run dir kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    console.print(endurance_report.table(result))
    console.print(endurance_report.verdict_table(result))
    _write(
        json_path, lambda path: endurance_report.write_json(result, path),
        report_dir, lambda folder: endurance_report.write_report(result, folder),
    )  # fmt: skip
    for problem in result.failed:
        console.print(f"[red]{problem}[/red]")
    if not result.passed:
        sys.exit(1)


def _write(
    json_path: Path | None,
    write_json: Callable[[Path], None],
    report_dir: Path | None,
    write_report: Callable[[Path], Path],
) -> None:
    """A drill's figures as JSON, and its report, where the options say."""
    if json_path:
        write_json(json_path)
        console.print(f"Figures: {json_path}")
    if report_dir:
        console.print(f"Report: {write_report(report_dir)}")

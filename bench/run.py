"""`make bench`: sentinel-board and the seed's literal translation, side by side, one topology.

python -m bench.run [--seconds S] [--connections C] [--workers N] [--rounds R] [--json FILE]
                    [--no-scaling] [--skip-scale]
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from bench import cpu, memory, push, scale
from bench.load import Figures, wrk
from bench.scale import KEYS
from bench.servers import PEER_NAME, Server, start_ours, start_peer, start_topology
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from sentinel_board.web.server import HTTP_SERVERS

console = Console(width=max(120, Console().width))


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    script: str | None = None
    seed: int = 0  # messages in UNREAD and in READ before the run
    peer: bool = True  # the peer has no JSON API


WORKLOADS = [
    Workload("POST /message", "/message", "post_form.lua"),
    Workload("GET /unread-list/size", "/unread-list/size"),
    Workload("GET /messages", "/messages", seed=100),
    Workload("POST /api/messages", "/api/messages", "post_api.lua", peer=False),
    Workload("mix 70/25/5", "/", "mix.lua", seed=100),
]
# Measured in the same rounds, taking turns: the two posts, whose ratio is asked (run minutes
# apart, the machine's noise alone moved it from 74% to 158%); the others, one at a time.
TOGETHER = [[WORKLOADS[0], WORKLOADS[3]], [WORKLOADS[1]], [WORKLOADS[2]], [WORKLOADS[4]]]
SCALING = [WORKLOADS[0], WORKLOADS[1]]


Runs = dict[tuple[str, str], list[Figures]]  # every run of each (workload label, server name)


@dataclass(frozen=True)
class Row:
    workload: str
    server: str
    figures: Figures
    http: str = ""  # ours: the HTTP server, whose floor the row is compared with


class Bench:
    def __init__(self, topology: Topology, seconds: float, connections: int) -> None:
        self.topology = topology
        self.seconds = seconds
        self.connections = connections
        master = topology.node(topology.master_name() or "")
        self.master = (master.host, master.port)
        self.password = topology.password(master)
        self.redis = scale.admin(*self.master, self.password)
        self.rows: list[Row] = []
        self.floors: dict[tuple[str, str], Figures] = {}  # (workload, HTTP server) -> floor
        # Whose CPU a run's request costs, besides its app's and wrk's (bench/cpu.py).
        self.servers: dict[str, list[int]] = {"master": [], "replicas": [], "sentinels": []}
        for node in topology.nodes:
            if node.kind == "app" or (pid := topology.pid(node)) is None:
                continue
            role = "master" if node == master else "replicas"
            self.servers["sentinels" if node.kind == "sentinel" else role].append(pid)

    def reset(self, seed: int) -> None:
        self.redis.delete(KEYS.unread, KEYS.read)
        if seed:
            scale.fill(self.redis, KEYS.unread, seed)
            scale.fill(self.redis, KEYS.read, seed)

    def run(self, server: Server, workload: Workload, label: str) -> Figures:
        self.reset(workload.seed)
        with cpu.measured({"app": [server.pid], **self.servers}) as per_request:
            figures = wrk(server.url, workload.path, script=workload.script,
                          seconds=self.seconds, connections=self.connections)  # fmt: skip
        figures = replace(figures, cpu_us=per_request(figures.requests))
        console.print(f"  {label:<34} {server.name:<28} {figures.rps:>9.0f} req/s")
        return figures

    def measure(
        self,
        servers: list[Server],
        workloads: Sequence[Workload],
        rounds: int = 1,
        suffix: str = "",
        floors: Sequence[Server] = (),
    ) -> None:
        """Each server's run of median requests/s among `rounds` on each workload, the
        servers (and the `floors` of ours) and the workloads taking turns: a moment when
        the shared machine is slow falls on all of them, not on one. The peer runs only
        the workloads it has."""
        runs = self.rounds([*servers, *floors], workloads, rounds, suffix)
        for workload in workloads:
            label = workload.name + suffix
            for server in servers:
                if (label, server.name) in runs:
                    figures = median_run(runs[label, server.name])
                    self.rows.append(Row(label, server.name, figures, server.http))
            for floor in floors:
                self.floors[workload.name, floor.http] = median_run(runs[label, floor.name])

    def rounds(self, servers: Sequence[Server], workloads: Sequence[Workload], rounds: int,
               suffix: str = "", swap: bool = False) -> Runs:  # fmt: skip
        """Every run of each (workload label, server name), `rounds` of them, the servers
        and the workloads taking turns (`swap`: the servers' order reversed every other
        round). The peer runs only the workloads it has."""
        runs: Runs = {}
        for round_ in range(rounds):
            for workload in workloads:
                for server in servers[::-1] if swap and round_ % 2 else servers:
                    if server.name == PEER_NAME and not workload.peer:
                        continue
                    label = workload.name + suffix
                    runs.setdefault((label, server.name), []).append(
                        self.run(server, workload, label)
                    )
        return runs


def median_run(runs: list[Figures]) -> Figures:
    """The run of median requests/s (the lower middle one of an even number)."""
    return sorted(runs, key=lambda figures: figures.rps)[(len(runs) - 1) // 2]


def _post_flush(url: str) -> None:
    request = urllib.request.Request(url + "/api/messages/flush", method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200


def scale_figures(bench: Bench, ours: Server) -> dict[str, Any]:
    page = [Workload("GET /messages", "/messages"), Workload("GET /api/messages", "/api/messages")]
    figures: dict[str, Any] = {}
    # 10: a short page; 100: a full page (the default limit); a million: the same full page.
    for read in (10, 100, 1_000_000):
        bench.redis.delete(KEYS.unread, KEYS.read)
        scale.fill(bench.redis, KEYS.read, read)
        for workload in page:
            label = f"{workload.name}, {read:,} read"
            result = wrk(ours.url, workload.path, script=None, seconds=bench.seconds / 2,
                         connections=bench.connections)  # fmt: skip
            bench.rows.append(Row(label, ours.name, result))
            figures[label] = asdict(result)
            console.print(f"  {label:<40} {result.rps:>9.0f} req/s, p99 {result.p99_ms:.1f} ms")
    watcher = scale.admin(*bench.master, bench.password)
    flush = scale.flush_figures(bench.redis, watcher, lambda: _post_flush(ours.url), 100_000)
    figures["flush"] = asdict(flush)
    figures["memory"] = asdict(memory.measure(bench.topology, ours, 20_000))
    bench.redis.delete(KEYS.unread, KEYS.read)
    return figures


def report(bench: Bench, extra: dict[str, Any]) -> None:
    peer = {row.workload: row.figures for row in bench.rows if row.server == PEER_NAME}
    table = Table(title="HTTP, wrk -t2, same machine", title_justify="left")
    columns = ("workload", "server", "req/s", "p50 ms", "p99 ms", "errors", "vs peer", "of floor")
    for column in columns:
        table.add_column(column, justify="left" if column in ("workload", "server") else "right")
    for row in bench.rows:
        f, base = row.figures, peer.get(row.workload)
        ratio = f"{f.rps / base.rps:.1f}x" if base and row.server != PEER_NAME else ""
        floor = bench.floors.get((row.workload, row.http))
        share = f"{f.rps / floor.rps:.0%}" if floor else ""
        table.add_row(row.workload, row.server, f"{f.rps:,.0f}", f"{f.p50_ms:.1f}",
                      f"{f.p99_ms:.1f}", str(f.errors), ratio, share)  # fmt: skip
    console.print(table)
    floors = Table(title="Floors: the same app, server and workers, no Redis", title_justify="left")
    for column in ("workload", "HTTP server", "req/s", "p99 ms"):
        floors.add_column(column, justify="left" if column == "workload" else "right")
    for (workload, http), f in bench.floors.items():
        floors.add_row(workload, http, f"{f.rps:,.0f}", f"{f.p99_ms:.1f}")
    console.print(floors)
    console.print(cpu.table(
        [(row.workload, row.server, row.figures.cpu_us) for row in bench.rows]
        + [(workload, f"floor, {http}", f.cpu_us) for (workload, http), f in bench.floors.items()]
    ))  # fmt: skip
    by = {(row.workload, row.server): row.figures for row in bench.rows}
    for server in dict.fromkeys(row.server for row in bench.rows if row.http):
        form, api = by.get(("POST /message", server)), by.get(("POST /api/messages", server))
        if form and api:
            console.print(f"{server}: POST /api/messages at {api.rps / form.rps:.0%} of the form")
    redis_table = Table(title="redis-benchmark on the master (-c 50)", title_justify="left")
    redis_table.add_column("command")
    redis_table.add_column("req/s", justify="right")
    for label, rate in extra["redis_benchmark"].items():
        redis_table.add_row(label, f"{rate:,.0f}")
    console.print(redis_table)
    push = extra["push"]
    console.print(
        "A post in the store and the HA layer alone (python -m bench.push): "
        + (f"failed, {push['error']}" if "error" in push else
           f"{push['cpu_us']:.1f} µs of CPU, {push['posts_per_batch']:.1f} posts per batch.")
    )  # fmt: skip
    if "scale" in extra:
        flush = extra["scale"]["flush"]
        console.print(
            f"Flush of {flush['messages']:,} unread: {flush['seconds']:.2f} s; another client "
            f"waited at most {flush['longest_ping_ms']:.1f} ms for a PING; the longest command "
            f"Redis ran: {flush['longest_command_ms']:.0f} ms."
        )
        used = extra["scale"]["memory"]
        console.print(
            f"Redis memory per message, through the API: {used['after_window']:.0f} bytes once "
            f"the app's retry window has passed, {used['with_client_key']:.0f} with an "
            "Idempotency-Key (kept a day)."
        )


@click.command()
@click.option("--seconds", default=10.0, show_default=True, help="Per wrk run.")
@click.option("--connections", default=64, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Our app's workers.")
@click.option(
    "--rounds", default=3, show_default=True, type=click.IntRange(1),
    help="Runs per server of each side-by-side workload, taking turns; the median is kept.",
)  # fmt: skip
@click.option("--scaling/--no-scaling", default=True, help="Also 1, 2 and 4 workers.")
@click.option("--skip-scale", is_flag=True, help="No million-message figures (faster).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None)
def main(seconds: float, connections: int, workers: int, rounds: int, scaling: bool,
         skip_scale: bool, json_path: Path | None) -> None:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sentinel-board-bench-") as folder:
        console.print("Starting the topology (auth on, every write WAITs for a replica)...")
        topology = start_topology(Path(folder))
        servers: list[Server] = []
        try:
            bench = Bench(topology, seconds, connections)
            ours = {http: start_ours(topology, free_port(), workers, Path(folder), http)
                    for http in HTTP_SERVERS}  # fmt: skip
            servers += ours.values()
            peer = start_peer(topology, free_port(), Path(folder))
            servers.append(peer)
            floored = [start_ours(topology, free_port(), workers, Path(folder), http, floor=True)
                       for http in HTTP_SERVERS]  # fmt: skip
            servers += floored
            console.print("Side by side, each with its floor (the same, no Redis):")
            for together in TOGETHER:
                bench.measure([*ours.values(), peer], together, rounds, floors=floored)
            for server in [peer, *ours.values(), *floored]:
                server.stop()
                servers.remove(server)
            if scaling:
                console.print("Workers:")
                for http in HTTP_SERVERS:
                    for count in (1, 2, 4):
                        server = start_ours(topology, free_port(), count, Path(folder), http)
                        servers.append(server)
                        for workload in SCALING:
                            bench.measure([server], [workload], suffix=" (workers)")
                        server.stop()
                        servers.remove(server)
            ours_default = start_ours(topology, free_port(), workers, Path(folder))
            servers.append(ours_default)
            extra: dict[str, Any] = {
                "redis_benchmark": scale.redis_benchmark(*bench.master, bench.password)
            }
            if not skip_scale:
                console.print("Scale:")
                extra["scale"] = scale_figures(bench, ours_default)
            # After the memory figure: its posts' keys, expiring meanwhile, would be counted.
            extra["push"] = push.in_a_process(topology)
            report(bench, extra)
            if json_path:
                rows = [{"workload": r.workload, "server": r.server, "http": r.http,
                         **asdict(r.figures)} for r in bench.rows]  # fmt: skip
                floors = [{"workload": w, "http": h, **asdict(f)}
                          for (w, h), f in bench.floors.items()]  # fmt: skip
                data = {"seconds": seconds, "connections": connections, "rounds": rounds,
                        "rows": rows, "floors": floors, **extra}  # fmt: skip
                json_path.write_text(json.dumps(data, indent=2) + "\n")
                console.print(f"Figures written to {json_path}")
        finally:
            for server in servers:
                server.stop()
            topology.down()


if __name__ == "__main__":
    main()

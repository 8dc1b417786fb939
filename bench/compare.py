"""This checkout's app against the app of another commit, side by side: one topology, the same
workloads, the two taking turns round after round (the order swapped every round), each with
2 workers behind uvicorn. What a change did to requests/s and to whose CPU a request costs.

python -m bench.compare REV [--workload NAME ...] [--seconds S] [--rounds R]

REV's `src` comes from `git archive` into a temporary folder, served with PYTHONPATH set to
it; the rest (the dependencies, bench/, the topology's servers) is this checkout's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
from rich.table import Table

from bench import cpu
from bench.run import WORKLOADS, Bench, console, median_run
from bench.servers import ROOT, start_ours, start_topology
from sentinel_board.topology.ports import free_port

SHOWN = ("app", "master", "replicas", cpu.WRK)


def export_src(rev: str, folder: Path) -> Path:
    """REV's `src` folder, written into `folder`."""
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", rev, "src"], cwd=ROOT,
                                 capture_output=True, check=True).stdout  # fmt: skip
    except subprocess.CalledProcessError as failed:
        raise click.BadParameter(failed.stderr.decode().strip(), param_hint="REV") from None
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    src = folder / "src"
    found = subprocess.run(
        [sys.executable, "-c", "import sentinel_board; print(sentinel_board.__file__)"],
        env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if not Path(found.strip()).is_relative_to(src):  # the installed package came first
        raise click.ClickException(f"PYTHONPATH={src} does not serve REV's package: {found}")
    return src


@click.command()
@click.argument("rev")
@click.option("--workload", "names", multiple=True, default=["POST /message"],
              show_default=True, type=click.Choice([w.name for w in WORKLOADS]))  # fmt: skip
@click.option("--seconds", default=5.0, show_default=True, help="Per wrk run.")
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(1))
def main(rev: str, names: tuple[str, ...], seconds: float, rounds: int) -> None:
    """This checkout's app against commit REV's, side by side on one topology, taking turns:
    requests/s of each round, the median, and whose CPU a request costs."""
    with tempfile.TemporaryDirectory(prefix="sentinel-board-compare-") as name:
        folder = Path(name)
        other_src = export_src(rev, folder / "other")
        topology = start_topology(folder)
        servers = []  # each stopped by its pid at the end, however far it got
        try:
            bench = Bench(topology, seconds, 64)
            servers.append(start_ours(topology, free_port(), 2, folder / "this"))
            servers[0].name = "this checkout"
            servers.append(start_ours(topology, free_port(), 2, folder / "rev",
                                      env={"PYTHONPATH": str(other_src)}))  # fmt: skip
            servers[1].name = rev
            workloads = [w for w in WORKLOADS if w.name in names]
            runs = bench.rounds(servers, workloads, rounds, swap=True)
        finally:
            for server in servers:
                server.stop()
            topology.down()
    table = Table(title=f"Medians of {rounds} rounds; CPU µs per request", title_justify="left")
    for column in ("workload", "app", "req/s by round", "median req/s", *SHOWN, "busy", "idle"):
        table.add_column(column, justify="left" if column in ("workload", "app") else "right")
    for (label, app), each in runs.items():
        median = median_run(each)
        used = median.cpu_us
        table.add_row(label, app, ", ".join(f"{f.rps:,.0f}" for f in each),
                      f"{median.rps:,.0f}", *(f"{used.get(g, 0):.0f}" for g in SHOWN),
                      f"{cpu.busy(used):.0f}",
                      f"{used.get(cpu.IDLE, 0):.0f}")  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()

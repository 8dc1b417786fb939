"""`sentinel-board drill`: break the deployment on purpose, under load, and judge it."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import Progress

from sentinel_board.cli.terminal import console, friendly_errors, misused, quiet_library_logs
from sentinel_board.extras import require

if TYPE_CHECKING:
    from sentinel_board.drills.options import EnduranceOptions


class _DrillCommand(click.Command):
    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The scenarios by name, with the faults each makes (read when --help asks)."""
        from sentinel_board.drills.scenarios import SCENARIOS

        with formatter.section("Scenarios"):
            formatter.write_dl(
                [(s.name, s.faults) for s in SCENARIOS.values()]
                + [("endurance", "--faults faults in rotation on one topology and one board")]
            )


@click.command(cls=_DrillCommand)
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

    if report_dir:
        require("plot")  # before the drills run, not after
    quiet_library_logs()  # the drill's own listener loses the sentinels it kills
    _writable(json_path, report_dir)
    if "endurance" in scenarios:
        from sentinel_board.drills.options import EnduranceOptions

        if len(scenarios) > 1 or repeat > 1 or len(chosen_servers) > 1:
            raise misused(
                "endurance runs alone, once", "sentinel-board drill endurance --faults 100"
            )
        if len(targets) > 1:
            raise misused(
                "endurance runs on one target", "--target local (the default) or --target compose"
            )
        server = chosen_servers[0] if chosen_servers else None
        matrix.check(targets or ("local",), (server,), Path.cwd())
        _endurance(
            EnduranceOptions(
                faults, down_after_ms, failover_deadline, read_from=read_from,
                server=server or "redis",
            ),
            targets[0] if targets else "local", server, fresh, report_dir, json_path, keep,
        )  # fmt: skip
        return

    unknown = [name for name in scenarios if name not in SCENARIOS]
    if unknown:
        raise misused(
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
    options: EnduranceOptions,
    target: str,
    server: str | None,
    fresh: bool,
    report_dir: Path | None,
    json_path: Path | None,
    keep: bool,
) -> None:
    from sentinel_board.drills import endurance_report
    from sentinel_board.drills.endurance import EnduranceResult, FaultResult, endure
    from sentinel_board.drills.endurance_target import compose_endurance_target, local_target

    def told(fault: FaultResult) -> None:
        verdict = (
            "[green]pass[/green]" if fault.passed else "[red]FAIL[/red]: " + "; ".join(fault.failed)
        )
        console.print(
            f"fault {fault.number}/{options.faults} {fault.kind}: {verdict} "
            f"(write window {fault.write_window_s:.2f} s, {fault.seconds:.1f} s)"
        )

    if target == "compose":
        with compose_endurance_target(Path.cwd(), options, server, console.print, fresh) as (
            there,
            applied,
        ):
            result = asyncio.run(endure(there, applied, told))
    else:

        async def endurance(run_dir: Path) -> EnduranceResult:
            async with local_target(run_dir, options) as there:
                return await endure(there, options, told)

        work_dir = Path(tempfile.mkdtemp(prefix="sentinel-board-endurance-"))
        try:
            result = asyncio.run(endurance(work_dir / "topology"))
        except BaseException:
            # Its logs say what went wrong, and its pid files what may still run.
            console.print(f"Run dir kept in {work_dir}")
            raise
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


def _writable(json_path: Path | None, report_dir: Path | None) -> None:
    """Where the figures and the report go, made now: not found missing after a long run."""
    places = [("--json", json_path, json_path.parent)] if json_path else []
    places += [("--report", report_dir, report_dir)] if report_dir else []
    for option, given, folder in places:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise misused(f"{option} {given}: {error.strerror}", "name a writable place") from None


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

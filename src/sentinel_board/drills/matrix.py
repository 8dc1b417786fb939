"""Every chosen scenario, on every chosen target and server, each repeated: the drill's runs.

Locally each run gets a fresh topology; in containers the runs share one compose project (the
one running, or one of the drill's own), restored before each.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sentinel_board.drills.options import Options
from sentinel_board.drills.runner import Result, run, run_on
from sentinel_board.drills.scenarios import Scenario
from sentinel_board.drills.targets import compose_target
from sentinel_board.topology import servers
from sentinel_board.topology.layout import TopologyError

TARGETS = ("local", "compose")
Announce = Callable[[str], None]


def check(targets: Sequence[str], chosen_servers: Sequence[str | None], root: Path) -> None:
    """Refuse at once what cannot run, rather than once per scenario."""
    for server in chosen_servers:
        if "local" in targets:
            servers.find(server or "redis")
        if "compose" in targets and server not in (None, *servers.NAMES):
            raise TopologyError(
                f"--server {server}: in containers the server is redis or valkey",
                "a binary's path applies to --target local only",
            )
    if "compose" in targets and not (root / "compose.yaml").exists():
        raise TopologyError(
            f"--target compose: no compose.yaml in {root}",
            "run the drill from the sentinel-board checkout",
        )


def run_all(
    scenarios: Sequence[Scenario],
    repeat: int,
    targets: Sequence[str],
    chosen_servers: Sequence[str | None],
    options: Options,
    *,
    root: Path,
    keep: bool,
    fresh: bool,
    say: Announce,
    done: Callable[[Result], None],
) -> list[Result]:
    """`done` is told of each run as it ends; `say`, of what is set up and taken down.
    `fresh`: in containers, a project of the drill's own even when one runs."""
    results: list[Result] = []
    for target in targets:
        for server in chosen_servers:
            if target == "local":
                local = replace(options, server=server or "redis")
                results += _local(scenarios, repeat, local, keep, say, done)
                continue
            with compose_target(root, options, server, say, fresh) as (compose, settings):
                for scenario in scenarios:
                    for repetition in range(1, repeat + 1):
                        result = asyncio.run(run_on(scenario, repetition, settings, compose))
                        results.append(result)
                        done(result)
    return results


def _local(
    scenarios: Sequence[Scenario],
    repeat: int,
    options: Options,
    keep: bool,
    say: Announce,
    done: Callable[[Result], None],
) -> list[Result]:
    work_dir = Path(tempfile.mkdtemp(prefix="sentinel-board-drill-"))
    results = []
    try:
        for scenario in scenarios:
            for repetition in range(1, repeat + 1):
                result = asyncio.run(run(scenario, repetition, options, work_dir))
                results.append(result)
                done(result)
    finally:
        if keep:
            say(f"Run dirs kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return results

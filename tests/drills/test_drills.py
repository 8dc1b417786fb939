"""A fast subset of the drills (down-after 1 s); the full set is `sentinel-board drill`."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner

from sentinel_board.cli import main
from sentinel_board.drills import report
from sentinel_board.drills.drill import Drill
from sentinel_board.drills.options import Options
from sentinel_board.drills.runner import Result, _judge, run
from sentinel_board.drills.scenarios import SCENARIOS
from sentinel_board.drills.targets import Target
from sentinel_board.drills.workload import Record, Sample

FAST = Options(down_after_ms=1000, failover_deadline=3)


def fast(server: str) -> Options:
    return replace(FAST, server=server)


@pytest.mark.failover
async def test_master_kill_loses_nothing_and_writes_follow_the_switch(
    tmp_path: Path, server: str
) -> None:
    result = await run(SCENARIOS["master-kill"], 1, fast(server), tmp_path)
    assert result.server.lower().startswith(server)
    assert result.passed, result.failed
    assert result.acknowledged > 20 and result.lost == 0 and result.duplicates == 0
    # The order (a switch, then writes acknowledged after it); how long each took is the
    # drill's figure, reported (`sentinel-board drill master-kill`), not asserted here.
    assert result.fault_to_switch_s is not None and result.switch_to_first_ack_s is not None
    assert result.nodes_identical


@pytest.mark.failover
async def test_replica_kill_fails_no_request(tmp_path: Path, server: str) -> None:
    result = await run(SCENARIOS["replica-kill"], 1, fast(server), tmp_path)
    assert result.passed, result.failed
    assert result.errors == {} and result.fault_to_switch_s is None


@pytest.mark.failover
async def test_sentinel_majority_fails_fast_then_recovers(tmp_path: Path, server: str) -> None:
    result = await run(SCENARIOS["sentinel-majority"], 1, fast(server), tmp_path)
    assert result.passed, result.failed
    assert result.errors.get("503", 0) > 0, "writes were refused while no failover was possible"
    assert result.lost == 0


def test_report_writes_pictures_an_index_a_summary_and_json(tmp_path: Path) -> None:
    start = 1_800_000_000.0
    result = Result(
        "master-kill", 1, 1000, "master", "Redis 7.0.15", attempted=30, acknowledged=30,
        write_gap_s=2.1, fault_to_switch_s=2.0, switch_to_first_ack_s=0.01, nodes_identical=True,
        started_at=start, faults=[(start, "SIGKILL redis-1 (master)")],
        events=[(start + 1.1, "+sdown", "master mymaster 127.0.0.1 1"),
                (start + 2.0, "+switch-master", "mymaster 127.0.0.1 1 127.0.0.1 2")],
        acks=[start - 1 + i * 0.1 for i in range(10)] + [start + 2.05 + i * 0.1 for i in range(20)],
        error_times=[],
    )  # fmt: skip
    in_containers = replace(
        result, server="Valkey 8.0.1", target="compose", image="sentinel-board/valkey:8.0",
        write_gap_s=3.4, failed=["2 acknowledged writes lost"], lost=2,
    )  # fmt: skip
    index = report.write_report([result, in_containers], tmp_path)
    png = tmp_path / "master-kill-1-local-redis-7.0.15.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert '<img src="master-kill-1-local-redis-7.0.15.png"' in index.read_text()
    assert "master-kill-1-compose-valkey-8.0.1.png" in index.read_text()
    assert "on compose Valkey 8.0.1 (image sentinel-board/valkey:8.0): " in index.read_text()
    header, _, row, _, image = (tmp_path / "survival.md").read_text().splitlines()
    assert image == "compose Valkey 8.0.1: image `sentinel-board/valkey:8.0`."
    assert "| local Redis 7.0.15 | compose Valkey 8.0.1 | why |" in header
    assert row.startswith("| `master-kill` | SIGKILL the master | a replica is promoted")
    assert "| as expected, 1 run: 0 lost, writes back after 2.1 s |" in row
    assert "| **NOT as expected** (0 passed), 1 run: 2 lost, writes back after 3.4 s |" in row
    figures = json.loads((tmp_path / "drills.json").read_text())
    summary = figures["summary"]["master-kill on local Redis 7.0.15"]
    assert summary["switch_to_first_ack_p95_s"] == 0.01
    assert [run["passed"] for run in figures["runs"]] == [True, False]
    assert figures["runs"][1]["target"] == "compose"


def test_an_unknown_scenario_is_refused_with_the_list() -> None:
    result = CliRunner().invoke(main, ["drill", "master-explodes"])
    assert result.exit_code == 2, "a usage error"
    assert result.output.startswith("Usage: ")
    assert "Error: unknown scenario master-explodes" in result.output
    assert "master-kill" in result.output


@pytest.mark.failover
def test_drill_command_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    args = ["drill", "replica-kill", "--down-after-ms", "1000", "--json", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Failover drills" in result.output and "replica-kill" in result.output
    [run_figures] = json.loads(out.read_text())["runs"]
    assert run_figures["scenario"] == "replica-kill" and run_figures["lost"] == 0


@pytest.mark.failover
async def test_partition_acknowledges_nothing_on_the_isolated_side(
    tmp_path: Path, server: str
) -> None:
    result = await run(SCENARIOS["partition"], 1, fast(server), tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.passed, result.failed
    assert result.isolated_accepted is not None and result.isolated_acknowledged == 0
    assert result.lost == 0 and result.nodes_identical


class Gone:
    """A target whose nodes are all gone: the verdict of the answers alone is looked at."""

    def __init__(self) -> None:
        self.data_nodes: list[str] = []

    def role(self, node: str) -> None:
        return None


def test_a_5xx_or_a_request_without_an_answer_fails_any_drill() -> None:
    """A 503 with Retry-After is how the board says "wait"; a 500, a 502 or a connection
    closed without an answer never is."""
    now = time.time()
    record = Record()
    record.samples += [Sample(now, "read", 500, 0.01), Sample(now, "write", 502, 0.01)]
    record.samples += [Sample(now, "write", 0, 0.01), Sample(now, "flush", 0, 0.01)]
    record.samples += [Sample(now, "write", 503, 0.5, retry_after=True)]
    drill = Drill(cast(Target, Gone()), down_after=1, failover_deadline=3)
    result = Result("master-kill", 1, 1000, "master", started_at=now)
    _judge(SCENARIOS["master-kill"], drill, record, result, prefix="w")
    assert "2 answers were a 5xx other than a 503 with Retry-After" in result.failed
    assert "2 requests got no answer (the connection closed, or 60 s passed)" in result.failed
    assert (result.server_errors, result.unanswered) == (2, 2)

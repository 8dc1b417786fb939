"""`sentinel-board drill --target compose` (on Valkey) and `drill endurance --target compose`:
faults made by Docker, judged as the local drills are, on a project of the drill's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sentinel_board.cli import main
from tests.compose.conftest import DOWN_AFTER, ROOT

pytestmark = [pytest.mark.failover, pytest.mark.timeout(600)]


def test_a_drill_in_containers_on_valkey_loses_nothing(
    docker_engine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # where compose.yaml is
    out = tmp_path / "drills.json"
    # --fresh: a project of the drill's own, whatever `make compose-up` may run here.
    args = ["drill", "--target", "compose", "--fresh", "--server", "valkey"]
    args += ["master-kill", "partition"]
    args += ["--down-after-ms", str(int(DOWN_AFTER * 1000)), "--json", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    runs = json.loads(out.read_text())["runs"]
    assert [run["scenario"] for run in runs] == ["master-kill", "partition"]
    for run in runs:
        assert run["passed"] and run["lost"] == 0 and run["duplicates"] == 0, run
        assert run["target"] == "compose" and run["server"].startswith("Valkey ")
        assert run["image"], "the image the nodes ran is recorded"
    partition = runs[1]
    assert partition["isolated_accepted"] is not None and partition["isolated_acknowledged"] == 0


def test_the_endurance_drill_runs_in_containers(
    docker_engine: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kind of fault once, made by Docker (a partition too: network disconnect), on one
    project and one board; resources sampled from the board in its container."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "endurance.json"
    args = ["drill", "endurance", "--target", "compose", "--fresh", "--faults", "5"]
    args += ["--down-after-ms", str(int(DOWN_AFTER * 1000)), "--json", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert figures["partition"] is None, "partitions are drilled in containers"
    faults = figures["faults"]
    assert [f["kind"] for f in faults] == [
        "master-kill", "master-hang", "replica-kill", "sentinel-kill", "partition"
    ]  # fmt: skip
    assert [f["switches"] for f in faults] == [1, 1, 0, 0, 1]
    assert all(f["lost"] == 0 and f["duplicates"] == 0 for f in faults)
    assert [s["fault"] for s in figures["samples"]] == [1, 2, 3, 4, 5]
    assert all(s["workers"] and s["redis"]["data_clients"] for s in figures["samples"])

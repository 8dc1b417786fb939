from __future__ import annotations

from sentinel_board.drills.scenarios import SCENARIOS
from tests.cli.commands import invoke


def test_help_names_every_scenario_with_its_faults() -> None:
    shown = invoke("drill", "--help").output
    assert "any of the names below" in shown
    listed = shown.split("\nScenarios:\n", 1)[1]
    for scenario in SCENARIOS.values():
        assert f"  {scenario.name}  " in listed, scenario.name
    assert "  endurance  " in listed

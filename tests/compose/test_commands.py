"""`sentinel-board compose up|down` refuse clearly where they cannot work (no engine needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from click.testing import CliRunner

from sentinel_board.cli import main
from sentinel_board.compose import machine
from sentinel_board.topology import render


@pytest.mark.parametrize("command", ["up", "down"])
def test_outside_the_checkout_it_says_where_to_run_it(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["compose", command])
    assert result.exit_code == 1, result.output
    assert f"no compose.yaml in {tmp_path}" in result.output
    assert "Hint: run it from the sentinel-board checkout" in result.output
    assert "Traceback" not in result.output


def test_images_refuse_an_unknown_source(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentinel_board.compose import images
    from sentinel_board.compose.engine import EngineError

    monkeypatch.setenv("SENTINEL_BOARD_IMAGES", "dockerhub")
    with pytest.raises(EngineError) as refused:
        images.build(Path.cwd(), print)
    assert "neither official nor debian" in str(refused.value) and refused.value.hint


def test_a_subnet_on_one_of_the_machines_networks_is_refused() -> None:
    routes = [line.split() for line in Path("/proc/net/route").read_text().splitlines()[1:]]
    mine = [r for r in routes if r[1] != "00000000" and not machine.OURS.fullmatch(r[0])]
    if not mine:
        pytest.skip("this machine routes no network of its own but the default")
    interface, destination, *_, mask = mine[0][:8]
    network = ipaddress.ip_network(
        f"{machine._address(destination)}/{machine._address(mask)}", strict=False
    )
    assert machine.overlaps(str(network)) == f"{network} (on {interface})"
    assert machine.overlaps(str(next(network.subnets()))) is not None, "a part of it, too"


def test_env_files_read_back_what_they_wrote(tmp_path: Path) -> None:
    values = {"A": "plain", "B": "two words", "C": 'it\'s $HOME "quoted"', "D": ""}
    path = tmp_path / "x.env"
    path.write_text("# a comment\n" + render.env_file(values))
    assert render.read_env_file(path) == values
    assert render.read_env_file(tmp_path / "missing.env") == {}

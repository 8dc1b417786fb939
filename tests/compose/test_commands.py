"""`sentinel-board compose up|down` refuse clearly where they cannot work (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sentinel_board.cli import main


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

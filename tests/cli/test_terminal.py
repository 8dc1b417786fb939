"""What every command says when it cannot run (cli/terminal.py): one line and a hint, and
exit 2 with the usage for a usage error."""

from __future__ import annotations

import pytest

from tests.cli.commands import invoke


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            ["status", "--run-dir", "/nonexistent"],
            "no topology in /nonexistent",
            "sentinel-board up",
        ),
        (["kill", "master", "--run-dir", "/nonexistent"], "no topology", "--run-dir"),
        (["up", "--server", "/no/redis-server"], "/no/redis-server not found", "apt-get"),
        (["up", "--redis-server", "/no/redis"], "/no/redis not found", "apt-get"),
    ],
)
def test_errors_are_one_line_and_a_hint(args: list[str], message: str, hint: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {message}")
    assert "Hint:" in result.output and hint in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["drill", "master-explodes"], "Hint: choose from: master-kill"),
        (["render-config"], "Hint: for example"),
        (["serve", "--log-level", "loud"], "'loud' is not one of 'critical'"),
    ],
)
def test_a_usage_error_exits_2_with_the_usage_and_a_hint(args: list[str], said: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Usage: main {args[0]} ")
    assert said in result.output and "Traceback" not in result.output


def test_bad_arguments_are_usage_errors() -> None:
    result = invoke("kill", "leader")
    assert result.exit_code == 2
    assert "'leader' is not one of 'master', 'replica', 'sentinel'" in result.output

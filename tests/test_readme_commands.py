"""What the README says of the commands is what they do: `up`'s defaults, `make clean`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from sentinel_board.cli import main

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def command_row(name: str) -> str:
    return next(line for line in README.splitlines() if line.startswith(f"| `{name}"))


def test_the_readme_gives_every_numeric_default_of_up() -> None:
    row = command_row("up")
    up = main.commands["up"]
    numeric = [
        p for p in up.params
        if isinstance(p, click.Option) and type(p.default) is int and not p.is_flag
    ]  # fmt: skip
    assert {p.name for p in numeric} >= {"workers", "failover_timeout_ms", "down_after_ms"}
    for option in numeric:
        if option.name == "workers":  # the machine's: one per core
            assert option.default == (os.cpu_count() or 1)
            assert "`--workers` (one per core" in row
            continue
        assert f"`{option.opts[0]}` ({option.default})" in row, option.opts[0]


def test_watch_and_serve_say_where_the_sentinel_password_comes_from() -> None:
    for command in ("watch", "serve"):
        assert "app.env" in command_row(command), command


def test_make_clean_is_in_the_readme_and_the_makefile() -> None:
    assert re.search(r"^clean:", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert "`make clean`" in README

"""The `sentinel-board` command, one module per group of commands.

local.py: the local topology (up, down, status, kill, start, watch); serve.py: the web app
alone; drill.py: the drills, endurance included; render_config.py: configs for other hosts;
compose.py: the Docker Compose deployment. terminal.py: what they all print.
"""

from __future__ import annotations

import click

from sentinel_board.cli.compose import compose
from sentinel_board.cli.drill import drill
from sentinel_board.cli.local import down, kill, start, status, up, watch
from sentinel_board.cli.render_config import render_config
from sentinel_board.cli.serve import serve


@click.group()
@click.version_option(package_name="sentinel-board")
def main() -> None:
    """A message board on Redis with Sentinel high availability."""


for command in (up, down, status, kill, start, watch, serve, drill, render_config, compose):
    main.add_command(command)

__all__ = ["main"]

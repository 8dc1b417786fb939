"""What the command-line tests share: the command, run in process or as a child."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner, Result

from sentinel_board.cli import main
from sentinel_board.topology import process
from tests.helpers import free_port_base

CLI = [sys.executable, "-m", "sentinel_board"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def ports(run_dir: Path) -> list[str]:
    return [
        "--run-dir", str(run_dir),
        "--port-base", str(free_port_base(3)),
        "--sentinel-port-base", str(free_port_base(3)),
        "--down-after-ms", "1000",
    ]  # fmt: skip


def pids_of(run_dir: Path) -> list[int]:
    return [pid for path in run_dir.glob("*/pid") if (pid := process.read_pid(path))]

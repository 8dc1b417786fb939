"""The optional parts are extras: the server runs without them, and a command that needs one
names it (never a traceback). Each case runs in a fresh interpreter where the extra's module
cannot be imported, as after `pip install sentinel-board`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Imports fail for these modules, as when they are not installed.
BLOCK = "import sys; sys.modules.update(dict.fromkeys({modules!r}))"
EXTRAS = ("matplotlib", "cryptography")


def without(modules: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    program = BLOCK.format(modules=modules) + "\n" + code
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )


def cli_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    code = f"from sentinel_board.cli import main; main({list(args)!r})"
    return without((module,), code)


def test_the_server_imports_without_any_extra() -> None:
    done = without(
        EXTRAS,
        "from sentinel_board.web.server import served_app\n"
        "from sentinel_board.cli import main\n"
        "main(['serve', '--help'])",
    )
    assert done.returncode == 0, done.stderr
    assert "The web app alone" in done.stdout


def test_up_tls_without_cryptography_names_the_extra(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done = cli_without("cryptography", "up", "--tls", "--detach", "--run-dir", str(run_dir))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "`tls` extra" in done.stdout
    assert "pip install 'sentinel-board[tls]'" in done.stdout
    assert not run_dir.exists()  # refused before anything started


def test_drill_report_without_matplotlib_names_the_extra_before_running(tmp_path: Path) -> None:
    # An unknown scenario: were the extra checked after the drills, this would say that instead.
    done = cli_without("matplotlib", "drill", "no-such-scenario", "--report", str(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "`plot` extra" in done.stdout
    assert "pip install 'sentinel-board[plot]'" in done.stdout


def test_serve_on_granian_without_it_names_the_extra() -> None:
    done = cli_without("granian", "serve", "--http-server", "granian")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install 'sentinel-board[bench]'" in done.stdout

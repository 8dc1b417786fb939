"""What the Makefile promises a newcomer: the interpreter PYTHON names, and a suite that runs
without Chromium. Each runs make on a virtualenv folder of the test's own (the first as a dry
run, `make -n`: what make would do)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MAKE = shutil.which("make") or ""
if not MAKE:
    pytest.skip("make is not installed", allow_module_level=True)


# Not what a `make test` that runs these passes to its children (-B, -i, ...).
OUTER = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
CLEAN = {name: value for name, value in os.environ.items() if name not in OUTER}


def make(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = CLEAN if path is None else {**CLEAN, "PATH": path}
    return subprocess.run(
        [MAKE, "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env=env,
    )  # fmt: skip


def test_another_python_makes_the_virtualenv_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".python").write_text("python3\n")
    (venv / ".installed").touch()  # made with python3, and newer than pyproject.toml
    same = make("-n", f"VENV={venv}", f"{venv}/.installed", "PYTHON=python3")
    assert same.returncode == 0 and "is up to date" in same.stdout, same.stdout + same.stderr
    other = make("-n", f"VENV={venv}", f"{venv}/.installed", "PYTHON=python3.99")
    assert f"python3.99 -m venv --clear {venv}" in other.stdout, other.stdout + other.stderr


def test_a_missing_python_is_named_with_what_to_do(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    done = make(f"VENV={venv}", f"{venv}/.installed", "PYTHON=python3.99")
    assert done.returncode != 0
    assert "python3.99 is not found: install it, or set PYTHON to another" in done.stderr
    assert not venv.exists(), "nothing was made"


def test_without_chromium_and_no_way_to_install_it_the_suite_still_runs(tmp_path: Path) -> None:
    """`make test` depends on `browser`: it must not stop the suite (the browser tests then
    skip, saying so). Here nothing can be installed: no apt-get on the PATH."""
    empty = tmp_path / "bin"
    empty.mkdir()
    done = make("browser", "BROWSER=no-such-browser=no-such-package", path=str(empty))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Missing: no-such-package, and this machine has no apt-get" in done.stderr
    assert "Chromium is missing: the browser tests will be skipped" in done.stderr

"""`sentinel-board compose up` and `compose down --purge` (make compose-up, compose-down), as a
user runs them from a checkout: the board served, then nothing of the project left."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from sentinel_board.compose import images
from sentinel_board.compose.project import Project, free_net
from sentinel_board.topology.ports import free_port
from tests.compose.conftest import ROOT
from tests.helpers import tracked_files

pytestmark = pytest.mark.timeout(900)  # images built from nothing when none is cached


def checkout(into: Path) -> Path:
    """A copy of the tracked files, as a fresh clone has them: `compose up` writes its .env and
    configs beside compose.yaml, never into this checkout."""
    for name in tracked_files(ROOT):
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, into / name)
    return into


def test_compose_up_serves_the_board_and_down_purge_leaves_nothing(
    docker_engine: None, tmp_path: Path
) -> None:
    root = checkout(tmp_path / "checkout")
    port = free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"sbcli{uuid.uuid4().hex[:8]}",
        "SENTINEL_BOARD_NET": free_net(),  # beside a project `make compose-up` may run
        "SENTINEL_BOARD_PUBLISH": f"127.0.0.1:{port}",
        "SENTINEL_BOARD_SERVER": images.server_choice(),
    }
    project = Project(root, root, name=env["COMPOSE_PROJECT_NAME"])

    def command(*args: str) -> tuple[int, str]:
        """The command's exit status and what it printed. Its own process group: stopped
        whole (its docker compose with it) if the test ends first."""
        child = subprocess.Popen(
            [sys.executable, "-m", "sentinel_board", "compose", *args], cwd=root, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            said, _ = child.communicate(timeout=600)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        return child.returncode, said

    try:
        status, said = command("up", "--down-after-ms", "1000")
        assert status == 0, said
        assert f"The board: http://127.0.0.1:{port}" in said
        assert "make compose-down" in said
        assert f"COMPOSE_PROJECT_NAME={project.name}" in (root / ".env").read_text()
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/readyz").status_code == 200
        posted = httpx.post(f"{url}/message", data={"message": "through compose up"})
        assert posted.status_code == 200 and 'data-unread="1"' in posted.text

        status, said = command("down", "--purge")
        assert status == 0, said
        assert f"Removed the containers, network and volumes of project {project.name}" in said
        assert project.leftovers() == []
    finally:
        project.down(volumes=True)  # whatever a failure left

"""A test run ended by SIGTERM stops what its fixtures started, as one ended by Ctrl-C does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sentinel_board.topology import process
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent

# Started by pytest in a child: a topology of its own, its nodes' pids and folders written down
# (whole, by a rename), then it waits for the signal that ends the run.
HOLDS_A_TOPOLOGY = """
import json, os, threading
from pathlib import Path

def test_holds_a_topology(make_topology):
    topology = make_topology()
    nodes = [[topology.pid(node), str(node.dir)] for node in topology.nodes]
    Path({ready!r} + ".part").write_text(json.dumps(nodes))
    os.rename({ready!r} + ".part", {ready!r})
    threading.Event().wait(60)
"""


def test_sigterm_to_a_run_stops_its_topologies(tmp_path: Path) -> None:
    ready = tmp_path / "nodes.json"
    test_file = tmp_path / "test_held.py"
    test_file.write_text(HOLDS_A_TOPOLOGY.format(ready=str(ready)))
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", str(test_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def ours() -> list[int]:
        """The topology's processes still running (a recycled pid is not one of them)."""
        if not ready.exists():
            return []
        nodes = json.loads(ready.read_text())
        return [pid for pid, folder in nodes if pid and process.owns(pid, Path(folder))]

    try:
        wait_until(lambda: ready.exists() or run.poll() is not None, timeout=60)
        assert run.poll() is None, (run.stdout.read() if run.stdout else b"").decode()
        started = ours()
        assert len(started) == 6, started
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:  # it tears down what it started, given the time
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
        for pid in ours():  # whatever the outcome, nothing of it outlives this test
            os.kill(pid, signal.SIGKILL)
    assert run.returncode == 2, output.decode()  # pytest's "interrupted"
    assert "KeyboardInterrupt" in output.decode()
    assert not ours(), "a process outlived the interrupted run"

"""A test run ended by SIGTERM stops what its fixtures started, as one ended by Ctrl-C does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent

# Started by pytest in a child: a topology of its own, its pids written down, then it waits
# for the signal that ends the run.
HOLDS_A_TOPOLOGY = """
import json, threading
from pathlib import Path

def test_holds_a_topology(make_topology):
    topology = make_topology()
    pids = [topology.pid(node) for node in topology.nodes]
    Path({ready!r}).write_text(json.dumps(pids))
    threading.Event().wait(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_a_run_stops_its_topologies(tmp_path: Path) -> None:
    ready = tmp_path / "pids.json"
    test_file = tmp_path / "test_held.py"
    test_file.write_text(HOLDS_A_TOPOLOGY.format(ready=str(ready)))
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider", str(test_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    pids: list[int] = []
    try:
        wait_until(lambda: ready.exists() or run.poll() is not None, timeout=60)
        assert run.poll() is None, (run.stdout.read() if run.stdout else b"").decode()
        pids = json.loads(ready.read_text())
        assert pids and all(alive(pid) for pid in pids)
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for pid in pids:  # whatever the outcome, nothing of it outlives this test
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert run.returncode == 2, output.decode()  # pytest's "interrupted"
    assert "KeyboardInterrupt" in output.decode()
    assert not [pid for pid in pids if alive(pid)], "a process outlived the interrupted run"

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A child stopped by another process (here: by a bare kill, as `sentinel-board kill` run from
# another shell does) is still ours to reap: unreaped, it is reported at exit as "still running".
PROBE = """
import os, signal, sys
from pathlib import Path
from sentinel_board.topology import process

folder = Path(sys.argv[1])
pid = process.spawn(
    [sys.executable, "-c", "import time; time.sleep(60)"],
    workdir=folder, pid_path=folder / "pid", log_path=folder / "log",
)
os.kill(pid, signal.SIGKILL)
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped
"""


def test_a_child_stopped_elsewhere_is_reaped_at_exit(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "still running" not in run.stderr

"""The README's example of the HA layer in another asyncio app runs as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sentinel_board.topology import Topology

README = Path(__file__).parents[2] / "README.md"
SECTION = "## The HA layer in another asyncio app"


def example() -> str:
    text = README.read_text()
    section = text[text.index(SECTION) :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_runs_as_shown(topology: Topology, tmp_path: Path) -> None:
    assert topology.credentials is not None
    script = tmp_path / "visits.py"
    script.write_text(example())
    env = {
        "SENTINELS": ",".join(f"{host}:{port}" for host, port in topology.sentinel_addresses),
        "REDIS_PASSWORD": topology.credentials.admin,
        "SENTINEL_PASSWORD": topology.credentials.sentinel,
    }
    counts = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script)], env=env, cwd=tmp_path,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        match = re.fullmatch(r"visits: (\d+), read back: (\d+)\n", done.stdout)
        assert match, done.stdout + done.stderr
        assert match.group(1) == match.group(2)
        counts.append(int(match.group(1)))
    assert counts[1] == counts[0] + 1

"""bench/cpu.py: the CPU per request of each process group, read from /proc, with real
processes: one that works, one that waits, and a child the block waits for, as wrk is."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from bench import cpu

# Works for `seconds` of CPU time (not of the clock: a busy machine only makes it longer).
BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass"


# Starts a child running `child` and passes on each line it writes, waiting for them.
PARENT = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', sys.argv[1]], stdout=subprocess.PIPE,"
    " stdin=subprocess.PIPE, text=True)\n"
    "for line in child.stdout: print(line.strip(), flush=True)"
)
IDLE = "print('ready', flush=True)\ninput()"


@contextmanager
def tree(child: str) -> Iterator[subprocess.Popen[str]]:
    """A process with a child of its own running `child`, stopped by pid after."""
    started = subprocess.Popen(
        [sys.executable, "-c", PARENT, child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        yield started
    finally:
        for pid in cpu.descendants([started.pid]) - {started.pid}:
            os.kill(pid, signal.SIGKILL)
        started.kill()
        started.wait()
        for pipe in (started.stdin, started.stdout):
            assert pipe is not None
            pipe.close()


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def test_descendants_are_found_through_proc() -> None:
    with tree(IDLE) as waiting:
        assert _line(waiting) == "ready"
        found = cpu.descendants([waiting.pid])
        assert waiting.pid in found
        assert len(found) == 2, "the process and its child"
        assert os.getpid() not in cpu.descendants([waiting.pid]), "only below the roots"


def test_each_group_is_charged_its_own_cpu_its_descendants_included() -> None:
    """The burner's child works 0.4 s once told to, inside the block: its parent's group."""
    burn_later = f"{IDLE}\n{BURN.format(seconds=0.4)}\nprint('done', flush=True)\ninput()"
    with tree(IDLE) as waiting, tree(burn_later) as burner:
        assert _line(waiting) == _line(burner) == "ready", "started, and idle from now on"
        [child] = cpu.descendants([burner.pid]) - {burner.pid}
        with cpu.measured({"burner": [burner.pid], "waiting": [waiting.pid]}) as per_request:
            with open(f"/proc/{child}/fd/0", "w") as its_stdin:  # the child's pipe, by pid
                its_stdin.write("go\n")
            subprocess.run([sys.executable, "-c", BURN.format(seconds=0.3)], check=True)
            assert _line(burner) == "done"
        used = per_request(1000)
    # 0.4 s of CPU over 1,000 requests: 400 µs each (in ticks of 10 ms: give or take a few).
    assert 350 <= used["burner"] <= 450, used
    assert 250 <= used[cpu.WRK] <= 450, "the child the block waited for, start-up included"
    assert used["waiting"] <= 20, used
    assert set(used) == {"burner", "waiting", cpu.WRK, cpu.OTHER, cpu.IDLE}
    assert all(value >= 0 for value in used.values()), used


def test_the_table_adds_up_what_bounds_a_run() -> None:
    spent = {"app": 100.0, "master": 40.0, "replicas": 30.0, "sentinels": 1.0, cpu.WRK: 20.0}
    ours = ("POST /message", "ours", {**spent, cpu.IDLE: 9.0})
    unmeasured: cpu.Spent = ("GET /", "peer", {})
    floor = ("POST /message", "floor, uvicorn", {"app": 50.0, cpu.WRK: 10.0})
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(cpu.table([ours, unmeasured, floor]))
    lines = console.export_text().splitlines()

    def last_two(server: str) -> list[list[str]]:  # busy and idle, of each row of `server`
        return [line.replace("│", " ").split()[-2:] for line in lines if server in line]

    assert last_two("ours") == [["191", "9"]]
    assert last_two("floor, uvicorn") == [["60", "0"]]
    assert not last_two("peer"), "a run without figures has no row"
    assert set(cpu.GROUPS) >= set(spent)

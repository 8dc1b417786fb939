"""bench/cpu.py: the CPU per request of each process group, read from /proc, with real
processes: one that works, one that waits, and a child the block waits for, as wrk is."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from rich.console import Console

from bench import cpu
from bench.load import Figures
from bench.run import CPU_GROUPS, Row, cpu_table

# Works for `seconds` of CPU time (not of the clock: a busy machine only makes it longer).
BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass"
# The same, then says so and waits: still there to be read when the block ends.
BURN_AND_WAIT = BURN + "\nprint('done', flush=True)\ninput()"


@pytest.fixture
def waiting() -> Iterator[subprocess.Popen[bytes]]:
    """A process that waits for its stdin, with a child of its own that does the same."""
    child = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'input()']); input()"
    started = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE)
    try:
        yield started
    finally:
        for pid in cpu.descendants([started.pid]) - {started.pid}:
            os.kill(pid, 9)
        started.kill()
        started.wait()
        assert started.stdin is not None
        started.stdin.close()


def test_descendants_are_found_through_proc(waiting: subprocess.Popen[bytes]) -> None:
    _poll(lambda: len(cpu.descendants([waiting.pid])) == 2)
    assert waiting.pid in cpu.descendants([waiting.pid])
    assert os.getpid() not in cpu.descendants([waiting.pid]), "only below the roots"


def test_each_group_is_charged_its_own_cpu(waiting: subprocess.Popen[bytes]) -> None:
    burner = subprocess.Popen(
        [sys.executable, "-c", BURN_AND_WAIT.format(seconds=0.4)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert burner.stdin is not None and burner.stdout is not None
    try:
        with cpu.measured({"burner": [burner.pid], "waiting": [waiting.pid]}) as per_request:
            subprocess.run([sys.executable, "-c", BURN.format(seconds=0.3)], check=True)
            assert burner.stdout.readline() == "done\n"
        used = per_request(1000)
    finally:
        burner.kill()
        burner.wait()
        burner.stdin.close()
        burner.stdout.close()
    # 0.4 s of CPU over 1,000 requests: 400 µs each (in ticks of 10 ms: give or take a few;
    # the interpreter's start-up counts too, less its part before the block began).
    assert 300 <= used["burner"] <= 500, used
    assert 250 <= used[cpu.WRK] <= 450, "the child the block waited for"
    assert used["waiting"] <= 30, used
    assert set(used) == {"burner", "waiting", cpu.WRK, cpu.OTHER, cpu.IDLE}
    assert all(value >= 0 for value in used.values()), used


def test_the_table_adds_up_what_bounds_a_run() -> None:
    spent = {"app": 100.0, "master": 40.0, "replicas": 30.0, "sentinels": 1.0, cpu.WRK: 20.0}
    ours = Row("POST /message", "ours", Figures(1.0, 1.0, 1.0, 1, 0, {**spent, cpu.IDLE: 9.0}))
    unmeasured = Row("GET /", "peer", Figures(1.0, 1.0, 1.0, 1, 0))
    floor = Figures(1.0, 1.0, 1.0, 1, 0, {"app": 50.0, cpu.WRK: 10.0})
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(cpu_table([ours, unmeasured], {("POST /message", "uvicorn"): floor}))
    lines = console.export_text().splitlines()

    def last_two(server: str) -> list[list[str]]:  # busy and idle, of each row of `server`
        return [line.replace("│", " ").split()[-2:] for line in lines if server in line]

    assert last_two("ours") == [["191", "9"]]
    assert last_two("floor, uvicorn") == [["60", "0"]]
    assert not last_two("peer"), "a run without figures has no row"
    assert set(CPU_GROUPS) >= set(spent)


def _poll(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.02)

"""Where a run's CPU goes: each process's CPU time per request, read from /proc.

wrk, the app's workers and the topology's servers share the machine's cores: once they are
busy, a route's requests/s is the cores' time divided by what all of them spend on one
request. The groups are measured by pid (a server with every process it started), wrk as
the bench's own child, and the rest of the machine's busy time (the kernel's network work
on nobody's account, other processes) and its idle time from /proc/stat, so that the groups
add up to the cores' time over the run. A group is its processes when the run begins: one
started during the run (the fork of a Redis BGSAVE) counts in `other`, and one that ends
during it counts nothing of the run (its time then goes to `other` too).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.table import Table

from sentinel_board.topology.process import stat_fields

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")  # a clock tick of /proc's CPU times, in µs
PROC = Path("/proc")
WRK, OTHER, IDLE = "wrk", "other", "idle"


def descendants(roots: Sequence[int]) -> set[int]:
    """The roots and every process they started, as /proc shows them now."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def ticks(pids: set[int]) -> dict[int, int]:
    """User and system CPU time of each of `pids` so far, in clock ticks (those gone left out)."""
    found = {}
    for pid in pids:
        if (fields := stat_fields(pid)) is not None:
            found[pid] = int(fields[11]) + int(fields[12])  # utime, stime
    return found


def machine() -> tuple[int, int]:
    """(busy, idle) clock ticks of all cores so far, from /proc/stat."""
    values = [int(n) for n in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values[:8]) - idle, idle  # guest time is already counted in user


def _children_ticks() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1e6 / TICK_US


@contextmanager
def measured(groups: Mapping[str, Sequence[int]]) -> Iterator[Callable[[int], dict[str, float]]]:
    """CPU spent over the block, per request: the block's result is a function of the number
    of requests served, giving each group's µs per request (its processes and their
    descendants), wrk's (the child the block waited for), the rest of the machine's busy
    time and its idle time."""
    pids = {name: descendants(roots) for name, roots in groups.items()}
    before = {name: ticks(each) for name, each in pids.items()}
    wrk_before, (busy_before, idle_before) = _children_ticks(), machine()
    spent: dict[str, float] = {}

    def per_request(requests: int) -> dict[str, float]:
        return {name: round(used * TICK_US / max(requests, 1), 1) for name, used in spent.items()}

    yield per_request
    for name, each in pids.items():
        now = ticks(each)
        spent[name] = sum(now[pid] - before[name][pid] for pid in now.keys() & before[name])
    spent[WRK] = _children_ticks() - wrk_before
    busy, idle = machine()
    spent[OTHER] = max(0.0, busy - busy_before - sum(spent.values()))
    spent[IDLE] = idle - idle_before


GROUPS = ("app", "master", "replicas", "sentinels", WRK, OTHER)  # what a table shows
Spent = tuple[str, str, Mapping[str, float]]  # a run's workload, server and CPU by group


def busy(used: Mapping[str, float]) -> float:
    """What a request cost the machine's cores in all (idle left out)."""
    return sum(used.get(group, 0.0) for group in GROUPS)


def table(runs: Iterable[Spent]) -> Table:
    """Each run's CPU per request, by whom: the busy total bounds its requests/s. A run
    without the figures has no row."""
    shown = Table(title="CPU per request (µs), the median runs", title_justify="left")
    for column in ("workload", "server", *GROUPS, "busy", IDLE):
        shown.add_column(column, justify="left" if column in ("workload", "server") else "right")
    for workload, server, used in runs:
        if used:
            shown.add_row(workload, server, *(f"{used.get(group, 0.0):.0f}" for group in GROUPS),
                          f"{busy(used):.0f}", f"{used.get(IDLE, 0.0):.0f}")  # fmt: skip
    return shown

"""What the endurance drill knows is stored: READ counted as it grows, never read twice.

READ only grows at its end (a flush appends what it pops from UNREAD). Once every data node
holds the same READ up to some length, that part is safe whatever fails next: it is counted
once and never read again. At each check only the new part of READ is compared across the
nodes (by a digest computed where the list is) and read, with UNREAD: a check costs what
was written since the last, not the whole history of a long run.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from sentinel_board.drills.endurance_target import EnduranceTarget
from sentinel_board.drills.runner import true_master

CATCH_UP = 10.0  # s: for the replicas to hold what the master's READ held


async def until(predicate: Callable[[], Awaitable[bool]], within: float) -> bool:
    """Whether `predicate` came true within `within` seconds (asked every 0.2 s)."""
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


def _texts(raw: list[str]) -> list[str]:
    return [json.loads(item)["message"] for item in raw]


class Ledger:
    def __init__(self, target: EnduranceTarget) -> None:
        self.target = target
        self.offset = 0  # READ[:offset] is counted, and alike on every node
        self.counted: Counter[str] = Counter()

    async def stored(self, failed: list[str]) -> Counter[str] | None:
        """Every message stored now, each as many times as it is; None (and why, in `failed`)
        when that cannot be told: no single master, or the nodes differ."""
        target, read = self.target, self.target.keys.read  # the board's READ, its prefix too
        master = await asyncio.to_thread(true_master, target)
        length = await asyncio.to_thread(target.list_length, master, read) if master else None
        if master is None or length is None:
            failed.append("no single master to read the lists from")
            return None
        if length < self.offset:
            failed.append(f"READ is {length} long on the master, shorter than {self.offset}")
            return None

        async def caught_up() -> bool:
            lengths = [
                await asyncio.to_thread(target.list_length, n, read) for n in target.data_nodes
            ]
            return all(n is not None and n >= length for n in lengths)

        if not await until(caught_up, CATCH_UP):
            failed.append(f"a replica did not catch up with the master's READ in {CATCH_UP:g} s")
        digests = {
            await asyncio.to_thread(target.digest, n, read, self.offset, length)
            for n in target.data_nodes
        }
        if len(digests) != 1:
            failed.append(f"the data nodes hold different READ[{self.offset}:{length}]")
            return None
        lists = await asyncio.to_thread(target.read_lists, master, self.offset)
        if lists is None:
            failed.append(f"{master} did not give its lists")
            return None
        new, unread = lists
        settled, tail = new[: length - self.offset], new[length - self.offset :]
        self.counted.update(_texts(settled))
        self.offset = length
        return self.counted + Counter(_texts(tail + unread))

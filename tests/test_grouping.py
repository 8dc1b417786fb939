from __future__ import annotations

import asyncio

import pytest

from sentinel_board.grouping import Grouped


class Recorder:
    """A `run` that answers each item doubled once let go, and notes every group it got."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.called = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.groups.append(items)
        self.called.set()
        await self.release.wait()
        return [ValueError(f"odd {n}") if n % 2 else n * 2 for n in items]


async def test_the_calls_of_one_turn_are_one_group() -> None:
    run = Recorder()
    grouped = Grouped(run, most=100)
    assert await asyncio.gather(*(grouped(n) for n in (0, 2, 4))) == [0, 4, 8]
    assert run.groups == [[0, 2, 4]]


async def test_what_comes_while_a_group_is_in_flight_goes_in_the_next() -> None:
    run = Recorder()
    run.release.clear()
    grouped = Grouped(run, most=100)
    first = grouped(0)
    await asyncio.sleep(0)  # the first group goes
    later = [grouped(2), grouped(4)]
    await asyncio.sleep(0)
    assert run.groups == [[0]], "one group at a time"
    run.release.set()
    assert await asyncio.gather(first, *later) == [0, 4, 8]
    assert run.groups == [[0], [2, 4]]


async def test_a_group_holds_at_most_most() -> None:
    run = Recorder()
    grouped = Grouped(run, most=2)
    assert await asyncio.gather(*(grouped(n) for n in (0, 2, 4, 6, 8))) == [0, 4, 8, 12, 16]
    assert run.groups == [[0, 2], [4, 6], [8]]


async def test_an_item_s_own_error_is_its_own() -> None:
    grouped = Grouped(Recorder(), most=100)
    results = await asyncio.gather(grouped(2), grouped(3), return_exceptions=True)
    assert results[0] == 4
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 3"


async def test_an_error_of_the_run_is_every_item_s_and_the_next_group_goes() -> None:
    groups: list[list[int]] = []

    async def failing(items: list[int]) -> list[int | BaseException]:
        groups.append(items)
        raise ConnectionError("gone")

    grouped = Grouped(failing, most=100)
    results = await asyncio.gather(grouped(1), grouped(2), return_exceptions=True)
    assert [type(each) for each in results] == [ConnectionError, ConnectionError]
    with pytest.raises(ConnectionError):
        await grouped(3)
    assert groups == [[1, 2], [3]]


async def test_an_item_given_up_on_before_its_group_goes_is_not_sent() -> None:
    run = Recorder()
    run.release.clear()
    grouped = Grouped(run, most=100)
    first = grouped(0)
    await asyncio.sleep(0)
    dropped, kept = grouped(2), grouped(4)
    dropped.cancel()
    run.release.set()
    assert list(await asyncio.gather(first, kept)) == [0, 8]
    assert run.groups == [[0], [4]]


async def test_a_group_cancelled_in_flight_cancels_its_items_and_the_next_goes() -> None:
    run = Recorder()
    run.release.clear()
    grouped = Grouped(run, most=100)
    first = grouped(0)
    await run.called.wait()  # the first group goes
    second = grouped(2)
    in_flight = grouped._in_flight
    assert in_flight is not None
    in_flight.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    run.release.set()
    assert await second == 4
    assert run.groups == [[0], [2]]


async def test_a_run_that_answers_too_few_fails_every_item_rather_than_leave_one_waiting() -> None:
    async def short(items: list[int]) -> list[int | BaseException]:
        return list[int | BaseException](items[:1])

    grouped = Grouped(short, most=100)
    results = await asyncio.gather(grouped(1), grouped(2), return_exceptions=True)
    assert [str(each) for each in results] == ["1 answers for a group of 2"] * 2

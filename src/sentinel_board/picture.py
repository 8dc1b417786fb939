"""The topology's status, typed once: what the sentinels say, whether they agree, whether the
board hears them, and its health; `/api/status`, the status page and `sentinel-board status`
all show these types.

Why a module of its own, imported by both producers and importing nothing of the board: the
web app (monitor.py, through the HA client) and the launcher (topology/status.py, through the
processes and each node's ROLE and INFO) see the topology from two places that may not import
each other, and each produces its picture its own way; the types, the sentinels' agreement and
the words for it have one owner here. They are TypedDicts because they are the JSON itself: the
API returns them as they are, and the status page's template reads the same keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, NotRequired, TypedDict

HealthState = Literal["ok", "degraded", "down"]
HEALTH_STATES: tuple[HealthState, ...] = ("ok", "degraded", "down")


class Health(TypedDict):
    """`ok`; `degraded`: serving, with something to look at; `down`: and why, in `problems`."""

    state: HealthState
    problems: list[str]


class Listener(TypedDict):
    """Whether the board hears one sentinel's events; if not, why, and `since` when (Unix time)."""

    sentinel: str  # host:port
    listening: bool
    error: str | None
    since: float


class SentinelAnswer(TypedDict):
    """What one sentinel answers now: the master it names (host:port), or why it does not."""

    address: str  # host:port
    reachable: bool
    names_master: str | None  # None when it does not answer, or knows no such master
    error: str | None  # None when it answers


# The first reachable sentinel's view, in Sentinel's own words (SENTINEL MASTER, REPLICAS).
SentinelsMaster = TypedDict(
    "SentinelsMaster",
    {
        "ip": str | None,
        "port": str | None,
        "flags": str | None,
        "num-slaves": str | None,
        "num-other-sentinels": str | None,
        "quorum": str | None,
    },
)
SentinelsReplica = TypedDict(
    "SentinelsReplica",
    {
        "ip": str | None,
        "port": str | None,
        "flags": str | None,
        "master-link-status": str | None,
        "offset": str | None,  # slave-repl-offset, as the sentinel last saw it
        # From the master's own INFO; absent when the master does not list the replica.
        "lag_bytes": NotRequired[int],
        "lag_seconds": NotRequired[int],
    },
)


class SentinelsPicture(TypedDict):
    sentinels: list[SentinelAnswer]
    master: SentinelsMaster | None  # None when no sentinel answers
    replicas: list[SentinelsReplica]
    quorum: str  # SENTINEL CKQUORUM's answer, or why there is none
    quorum_ok: bool


class BoardView(TypedDict):
    """The board's own view: the master it writes to and what it counted (every worker's)."""

    master: str | None  # host:port; None before it found one
    read_from: str
    retries: int
    failovers_followed: int
    unavailable: int  # 503s served to users
    listener: list[Listener]


class Event(TypedDict):
    type: str
    payload: str
    received_at: float
    sentinel: str


class StatusPicture(SentinelsPicture):
    """What `/api/status` answers and the status page shows (`notifications` added by ops)."""

    master_name: str
    app: BoardView
    events: list[Event]
    health: Health


def named_masters(
    answers: Iterable[tuple[str, str | None]], names: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Each master a sentinel names (`host:port`, or its name in `names`) and which sentinels
    name it, from `(sentinel, host:port or None)`: more than one while they disagree, as in
    the seconds of a failover. A sentinel that names nothing is left out."""
    named: dict[str, list[str]] = {}
    for sentinel, master in answers:
        if master is not None:
            named.setdefault((names or {}).get(master, master), []).append(sentinel)
    return named


def disagreement(named: Mapping[str, list[str]]) -> str | None:
    """What the answering sentinels disagree about, in words; None when they agree."""
    if len(named) < 2:
        return None
    return "; ".join(
        f"{', '.join(sentinels)} {'names' if len(sentinels) == 1 else 'name'} {master}"
        for master, sentinels in named.items()
    )


def listener_from_json(entry: object) -> Listener:
    """One `app.listener` entry of `/api/status`, checked: ValueError names what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError(f"a listener entry is an object, not {type(entry).__name__}")
    sentinel, listening = entry.get("sentinel"), entry.get("listening")
    error, since = entry.get("error"), entry.get("since")
    if not isinstance(sentinel, str) or not isinstance(listening, bool):
        raise ValueError("a listener entry names its `sentinel` and says if it is `listening`")
    if not (error is None or isinstance(error, str)):
        raise ValueError("a listener entry's `error` is a string or null")
    if isinstance(since, bool) or not isinstance(since, int | float):
        raise ValueError("a listener entry's `since` is a number")
    return Listener(sentinel=sentinel, listening=listening, error=error, since=float(since))


def health_from_json(entry: object) -> Health:
    """`/api/status`'s `health`, checked: ValueError names what is wrong."""
    if not isinstance(entry, dict):
        raise ValueError(f"health is an object, not {type(entry).__name__}")
    state, problems = entry.get("state"), entry.get("problems")
    known = [s for s in HEALTH_STATES if s == state]
    if not known:
        raise ValueError(f"health's state is one of {', '.join(HEALTH_STATES)}")
    if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        raise ValueError("health's problems are a list of strings")
    return Health(state=known[0], problems=problems)

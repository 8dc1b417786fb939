"""Monitoring: the topology as the sentinels see it, the master's replication, the app's view,
produced through the HA client as the web app's picture (its types: picture.py)."""

from __future__ import annotations

from typing import NamedTuple

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from sentinel_board.ha import RedisHA, format_address
from sentinel_board.ha.connection import as_text, command, text_fields
from sentinel_board.ha.errors import describe
from sentinel_board.picture import (
    BoardView,
    Event,
    Health,
    Listener,
    SentinelAnswer,
    SentinelsPicture,
    StatusPicture,
    disagreement,
    named_masters,
)

ERRORS = (TimeoutError, RedisError, OSError)


async def status_view(ha: RedisHA) -> StatusPicture:
    """What `/api/status` and the status page show."""
    master = ha.master_address
    app = BoardView(
        master=format_address(master) if master else None,
        read_from=ha.config.read_from,
        retries=ha.stats.retries,
        failovers_followed=ha.stats.failovers_followed,
        unavailable=ha.stats.unavailable,
        # Whether the app hears each sentinel's events, and if not why.
        listener=[
            Listener(sentinel=s.sentinel, listening=s.listening, error=s.error, since=s.since)
            for s in ha.listeners
        ],
    )
    seen = await sentinel_view(ha)
    lag, writes_refused = await _replication(ha)
    for replica in seen["replicas"]:
        if behind := lag.get(f"{replica['ip']}:{replica['port']}"):
            replica["lag_bytes"], replica["lag_seconds"] = behind
    return StatusPicture(
        master_name=ha.config.master_name,
        app=app,
        sentinels=seen["sentinels"],
        master=seen["master"],
        replicas=seen["replicas"],
        quorum=seen["quorum"],
        quorum_ok=seen["quorum_ok"],
        events=[
            Event(type=e.type, payload=e.payload, received_at=e.received_at, sentinel=e.sentinel)
            for e in ha.recent_events
        ],
        health=health(seen, app, writes_refused),
    )


def _address(ip: str | None, port: str | None) -> str:
    """A sentinel's ip and port as the app writes an address (format_address: [::1]:6379)."""
    return format_address((ip or "?", int(port))) if port and port.isdigit() else f"{ip}:{port}"


def health(seen: SentinelsPicture, app: BoardView, writes_refused: str | None = None) -> Health:
    """`ok`, `degraded` (serving, with something to look at) or `down`, and why.
    `writes_refused`: why the master refuses every write, which makes it `down` too."""
    master = seen["master"]
    if master is None:
        return Health(state="down", problems=["no sentinel answers"])
    address = _address(master["ip"], master["port"])
    problems = []
    if "down" in (master["flags"] or ""):
        problems.append(f"the sentinels flag master {address} {master['flags']}")
    if app["master"] != address:
        problems.append(f"the app writes to {app['master']}, the sentinels name {address}")
    named = named_masters((s["address"], s["names_master"]) for s in seen["sentinels"])
    if said := disagreement(named):  # a failover under way, or a sentinel left behind
        problems.append(f"the sentinels disagree: {said}")
    if not seen["quorum_ok"]:
        problems.append(seen["quorum"])
    for replica in seen["replicas"]:
        if replica["master-link-status"] != "ok" or "down" in (replica["flags"] or ""):
            where = _address(replica["ip"], replica["port"])
            problems.append(f"replica {where} is {replica['flags']}")
    silent = {s["address"]: s["error"] for s in seen["sentinels"] if not s["reachable"]}
    for address, error in silent.items():
        problems.append(f"sentinel {address} does not answer ({error})")
    for state in app["listener"]:  # said already of a sentinel that does not answer
        if state["error"] is not None and state["sentinel"] not in silent:
            problems.append(f"the app does not hear sentinel {state['sentinel']}: {state['error']}")
    if not seen["replicas"]:
        problems.append("no replica: writes wait for one to confirm them")
    if writes_refused is not None:
        problems.insert(0, f"writes are unavailable: {writes_refused}")
    down = "o_down" in (master["flags"] or "") or app["master"] is None
    down = down or writes_refused is not None
    return Health(state="down" if down else "degraded" if problems else "ok", problems=problems)


async def sentinel_view(ha: RedisHA) -> SentinelsPicture:
    """What every sentinel says now, and the first reachable one's picture in full."""
    name = ha.config.master_name
    sentinels: list[SentinelAnswer] = []
    picture: SentinelsPicture | None = None
    clients = dict(ha.sentinel_clients)
    for address in ha.config.sentinels:
        client = clients[address]
        entry = SentinelAnswer(
            address=format_address(address), reachable=False, names_master=None, error=None
        )
        try:
            named = await command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
            entry["reachable"] = True
            entry["names_master"] = (
                format_address((as_text(named[0]), int(named[1]))) if named else None
            )
            if picture is None:
                picture = await _picture(client, name)
        except ERRORS as error:
            entry["error"] = describe(error)
        sentinels.append(entry)
    if picture is None:
        return SentinelsPicture(
            sentinels=sentinels,
            master=None,
            replicas=[],
            quorum="no sentinel answers",
            quorum_ok=False,
        )
    return picture | {"sentinels": sentinels}


async def _picture(sentinel: Redis, name: str) -> SentinelsPicture:
    """The sentinel's picture, its `sentinels` left for the caller to fill in."""
    master = text_fields(await command(sentinel, "SENTINEL", "MASTER", name))
    replicas = [text_fields(r) for r in await command(sentinel, "SENTINEL", "REPLICAS", name)]
    try:
        quorum = as_text(await command(sentinel, "SENTINEL", "CKQUORUM", name))
    except ResponseError as error:  # NOQUORUM comes as an error reply
        quorum = str(error)
    return SentinelsPicture(
        sentinels=[],
        master={
            "ip": master.get("ip"),
            "port": master.get("port"),
            "flags": master.get("flags"),
            "num-slaves": master.get("num-slaves"),
            "num-other-sentinels": master.get("num-other-sentinels"),
            "quorum": master.get("quorum"),
        },
        replicas=[
            {
                "ip": r.get("ip"),
                "port": r.get("port"),
                "flags": r.get("flags"),
                "master-link-status": r.get("master-link-status"),
                "offset": r.get("slave-repl-offset"),
            }
            for r in replicas
        ],
        quorum=quorum,
        quorum_ok=quorum.startswith("OK"),
    )


class Lag(NamedTuple):
    bytes: int
    seconds: int


async def _replication(ha: RedisHA) -> tuple[dict[str, Lag], str | None]:
    """Per replica `ip:port`, how far behind the master it is, from the master's own INFO;
    and why the master refuses every write (None when it takes them, or is not reached)."""
    current = ha.current_master
    if current is None:
        return {}, None
    try:
        info = await current[1].info("replication")
    except ERRORS:
        return {}, None  # the master is gone: the sentinels' picture still shows the replicas
    master_offset = int(info.get("master_repl_offset", 0))
    lag: dict[str, Lag] = {}
    online = 0
    for key, value in info.items():
        if key.startswith("slave") and isinstance(value, dict):
            online += value.get("state") == "online"
            lag[f"{value['ip']}:{value['port']}"] = Lag(
                bytes=max(0, master_offset - int(value["offset"])), seconds=int(value["lag"])
            )
    needed = ha.config.min_replica_acks
    if info.get("min_slaves_good_slaves") == 0:  # shown with min-replicas-to-write set
        refused = "the master has no replica in sync, and min-replicas-to-write makes it "
        return lag, refused + "refuse them (NOREPLICAS)"
    if online < needed:
        return lag, f"every write waits for {needed} replicas to confirm it; {online} attached"
    return lag, None

"""Monitoring: the topology as the sentinels see it, the master's replication, the app's view."""

from __future__ import annotations

import dataclasses
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from sentinel_board.ha import RedisHA, format_address
from sentinel_board.ha.connection import as_text, command, text_fields
from sentinel_board.ha.errors import describe

ERRORS = (TimeoutError, RedisError, OSError)


async def status_view(ha: RedisHA) -> dict[str, Any]:
    """What `/api/status` and the status page show."""
    master = ha.master_address
    view: dict[str, Any] = {
        "master_name": ha.config.master_name,
        "app": {
            "master": format_address(master) if master else None,
            "read_from": ha.config.read_from,
            "retries": ha.stats.retries,
            "failovers_followed": ha.stats.failovers_followed,
            "unavailable": ha.stats.unavailable,
            # Whether the app hears each sentinel's events, and if not why.
            "listener": [dataclasses.asdict(state) for state in ha.listeners],
        },
        **await sentinel_view(ha),
        "events": [dataclasses.asdict(event) for event in ha.recent_events],
    }
    lag, writes_refused = await _replication(ha)
    for replica in view["replicas"]:
        replica.update(lag.get(f"{replica['ip']}:{replica['port']}", {}))
    view["health"] = health(view, writes_refused)
    return view


def health(view: dict[str, Any], writes_refused: str | None = None) -> dict[str, Any]:
    """`ok`, `degraded` (serving, with something to look at) or `down`, and why.
    `writes_refused`: why the master refuses every write, which makes it `down` too."""
    master = view["master"]
    if master is None:
        return {"state": "down", "problems": ["no sentinel answers"]}
    address = f"{master['ip']}:{master['port']}"
    problems = []
    if "down" in (master["flags"] or ""):
        problems.append(f"the sentinels flag master {address} {master['flags']}")
    if view["app"]["master"] != address:
        problems.append(f"the app writes to {view['app']['master']}, the sentinels name {address}")
    if not view["quorum_ok"]:
        problems.append(view["quorum"])
    for replica in view["replicas"]:
        if replica["master-link-status"] != "ok" or "down" in (replica["flags"] or ""):
            problems.append(f"replica {replica['ip']}:{replica['port']} is {replica['flags']}")
    silent = {s["address"]: s["error"] for s in view["sentinels"] if not s["reachable"]}
    for address, error in silent.items():
        problems.append(f"sentinel {address} does not answer ({error})")
    for state in view["app"]["listener"]:  # said already of a sentinel that does not answer
        if state["error"] is not None and state["sentinel"] not in silent:
            problems.append(f"the app does not hear sentinel {state['sentinel']}: {state['error']}")
    if not view["replicas"]:
        problems.append("no replica: writes wait for one to confirm them")
    if writes_refused is not None:
        problems.insert(0, f"writes are unavailable: {writes_refused}")
    down = "o_down" in (master["flags"] or "") or view["app"]["master"] is None
    down = down or writes_refused is not None
    return {"state": "down" if down else "degraded" if problems else "ok", "problems": problems}


async def sentinel_view(ha: RedisHA) -> dict[str, Any]:
    """What every sentinel says now, and the first reachable one's picture in full."""
    name = ha.config.master_name
    sentinels: list[dict[str, Any]] = []
    picture: dict[str, Any] | None = None
    clients = dict(ha.sentinel_clients)
    for address in ha.config.sentinels:
        client = clients[address]
        entry: dict[str, Any] = {"address": format_address(address), "reachable": False}
        try:
            named = await command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
            entry.update(
                reachable=True,
                names_master=f"{as_text(named[0])}:{as_text(named[1])}" if named else None,
            )
            if picture is None:
                picture = await _picture(client, name)
        except ERRORS as error:
            entry["error"] = describe(error)
        sentinels.append(entry)
    blank: dict[str, Any] = {
        "master": None,
        "replicas": [],
        "quorum": "no sentinel answers",
        "quorum_ok": False,
    }
    return {"sentinels": sentinels, **(picture or blank)}


async def _picture(sentinel: Redis, name: str) -> dict[str, Any]:
    master = text_fields(await command(sentinel, "SENTINEL", "MASTER", name))
    replicas = [text_fields(r) for r in await command(sentinel, "SENTINEL", "REPLICAS", name)]
    try:
        quorum = as_text(await command(sentinel, "SENTINEL", "CKQUORUM", name))
    except ResponseError as error:  # NOQUORUM comes as an error reply
        quorum = str(error)
    keep = ("ip", "port", "flags", "num-slaves", "num-other-sentinels", "quorum")
    return {
        "master": {k: master.get(k) for k in keep},
        "replicas": [
            {k: r.get(k) for k in ("ip", "port", "flags", "master-link-status")}
            | {"offset": r.get("slave-repl-offset")}
            for r in replicas
        ],
        "quorum": quorum,
        "quorum_ok": quorum.startswith("OK"),
    }


async def _replication(ha: RedisHA) -> tuple[dict[str, dict[str, int]], str | None]:
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
    lag: dict[str, dict[str, int]] = {}
    online = 0
    for key, value in info.items():
        if key.startswith("slave") and isinstance(value, dict):
            online += value.get("state") == "online"
            lag[f"{value['ip']}:{value['port']}"] = {
                "lag_bytes": max(0, master_offset - int(value["offset"])),
                "lag_seconds": int(value["lag"]),
            }
    needed = ha.config.min_replica_acks
    if info.get("min_slaves_good_slaves") == 0:  # shown with min-replicas-to-write set
        refused = "the master has no replica in sync, and min-replicas-to-write makes it "
        return lag, refused + "refuse them (NOREPLICAS)"
    if online < needed:
        return lag, f"every write waits for {needed} replicas to confirm it; {online} attached"
    return lag, None

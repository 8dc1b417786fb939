"""The board's health from the sentinels' picture: pure logic, no server."""

from __future__ import annotations

from sentinel_board.monitor import health
from sentinel_board.picture import BoardView, SentinelAnswer, SentinelsPicture, SentinelsReplica


def replica(port: str, link: str = "ok", flags: str = "slave") -> SentinelsReplica:
    return {"ip": "::1", "port": port, "flags": flags, "master-link-status": link, "offset": "1"}


def ipv6_picture(*replicas: SentinelsReplica) -> tuple[SentinelsPicture, BoardView]:
    """Every node on ::1: the sentinels say `::1` and a port, the app `[::1]:6379`."""
    answers: list[SentinelAnswer] = [
        {"address": f"[::1]:{port}", "reachable": True, "names_master": "[::1]:6379", "error": None}
        for port in (26379, 26380, 26381)
    ]
    seen: SentinelsPicture = {
        "sentinels": answers,
        "master": {"ip": "::1", "port": "6379", "flags": "master", "num-slaves": "2",
                   "num-other-sentinels": "2", "quorum": "2"},
        "replicas": list(replicas),
        "quorum": "OK 3 usable Sentinels",
        "quorum_ok": True,
    }  # fmt: skip
    app: BoardView = {"master": "[::1]:6379", "read_from": "master", "retries": 0,
                      "failovers_followed": 0, "unavailable": 0, "listener": []}  # fmt: skip
    return seen, app


def test_an_ipv6_topology_in_good_health_is_ok() -> None:
    """The sentinels' `::1` and 6379 were joined as `::1:6379`, never the app's `[::1]:6379`:
    an IPv6 board in good health was always `degraded`."""
    seen, app = ipv6_picture(replica("6380"), replica("6381"))
    assert health(seen, app) == {"state": "ok", "problems": []}


def test_an_ipv6_replica_down_is_named_as_the_app_names_addresses() -> None:
    seen, app = ipv6_picture(replica("6380"), replica("6381", link="err", flags="slave,s_down"))
    assert health(seen, app) == {
        "state": "degraded",
        "problems": ["replica [::1]:6381 is slave,s_down"],
    }

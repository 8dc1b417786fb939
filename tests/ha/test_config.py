from __future__ import annotations

import pytest

from sentinel_board.ha import HAConfig, parse_address
from sentinel_board.ha.config import parse_addresses

SENTINELS = [("127.0.0.1", 26380)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ack_timeout_ms": 0}, "ack_timeout_ms: must be at least 1: WAIT with a timeout of 0"),
        ({"sentinels": []}, "sentinels: at least one"),
        ({"failover_deadline": 0}, "failover_deadline: must be a number of seconds above 0"),
        ({"socket_timeout": float("nan")}, "socket_timeout: must be"),
        ({"min_replica_acks": -1}, "min_replica_acks: must be 0 or more"),
        ({"read_from": "anywhere"}, "read_from: must be master or replica_preferred"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HAConfig(**({"sentinels": SENTINELS} | changes))  # type: ignore[arg-type]


def test_passwords_are_never_in_its_repr() -> None:
    config = HAConfig(SENTINELS, password="hunter2", sentinel_password="hunter3")
    assert "hunter" not in repr(config)


def test_addresses() -> None:
    assert parse_address("[::1]:26380") == ("::1", 26380)
    assert parse_addresses("10.0.0.1:26379, sentinel-2:26379,") == (
        ("10.0.0.1", 26379),
        ("sentinel-2", 26379),
    )
    with pytest.raises(ValueError, match="is not host:port"):
        parse_address("10.0.0.1")

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError

from sentinel_board.ha import NotReplicated, Unavailable
from sentinel_board.ha.errors import is_transient


@pytest.mark.parametrize(
    "reply",
    [
        "NOREPLICAS Not enough good replicas to write.",
        "WAIT cannot be used with replica instances.",
        "UNBLOCKED force unblock from blocking operation, "
        "instance state changed (master -> replica?)",
    ],
)
def test_what_a_failing_over_master_answers_is_retried(reply: str) -> None:
    assert is_transient(ResponseError(reply))


def test_what_a_failover_does_not_explain_is_not_retried() -> None:
    assert is_transient(RedisConnectionError("lost")) and is_transient(ReadOnlyError("READONLY"))
    assert not is_transient(
        ResponseError("WRONGTYPE Operation against a key holding the wrong kind")
    )
    assert not is_transient(ValueError("a bug is not a failover"))


def test_not_replicated_is_a_kind_of_unavailable() -> None:
    assert issubclass(NotReplicated, Unavailable)

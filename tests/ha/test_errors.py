from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError

from sentinel_board.ha import NotReplicated, ServerRefused, Unavailable
from sentinel_board.ha.errors import is_transient, server_refusal


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


@pytest.mark.parametrize(
    ("error", "condition"),
    [
        (OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), "OOM"),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots, but ..."), "MISCONF"),
        (ResponseError("BUSY Redis is busy running a script. ..."), "BUSY"),
        (ResponseError("BUSY Valkey is busy running a script. ..."), "BUSY"),
        (ResponseError("BUSYGROUP Consumer Group name already exists"), None),
        (ResponseError("WRONGTYPE Operation against a key holding the wrong kind"), None),
        (RedisConnectionError("lost"), None),
    ],
)
def test_a_server_s_own_conditions_are_refusals_not_failovers(
    error: Exception, condition: str | None
) -> None:
    refused = server_refusal(error, "master 127.0.0.1:6379", retry_after=2)
    assert (refused and refused.condition) == condition
    if refused is not None:
        assert isinstance(refused, ServerRefused) and isinstance(refused, Unavailable)
        assert refused.reason.startswith("master 127.0.0.1:6379 refuses commands: ")
        assert refused.retry_after == 2 and not is_transient(error)

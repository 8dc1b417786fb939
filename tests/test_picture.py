"""The picture's own rules: who names which master, the words for a disagreement, and the
`/api/status` parts the command line reads back, checked."""

from __future__ import annotations

import pytest

from sentinel_board.picture import (
    disagreement,
    health_from_json,
    listener_from_json,
    named_masters,
)


def test_sentinels_that_agree_say_nothing_and_those_that_do_not_are_named() -> None:
    agreeing = named_masters([("s1", "10.0.0.1:6379"), ("s2", "10.0.0.1:6379"), ("s3", None)])
    assert agreeing == {"10.0.0.1:6379": ["s1", "s2"]}  # one that names nothing is left out
    assert disagreement(agreeing) is None
    names = {"10.0.0.1:6379": "redis-1", "10.0.0.2:6379": "redis-2"}
    split = named_masters([("s1", "10.0.0.1:6379"), ("s2", "10.0.0.2:6379")], names)
    assert disagreement(split) == "s1 names redis-1; s2 names redis-2"
    three = named_masters([("s1", "a:1"), ("s2", "a:1"), ("s3", "b:2")])
    assert disagreement(three) == "s1, s2 name a:1; s3 names b:2"


def test_a_listener_entry_is_read_back_or_refused_with_why() -> None:
    entry = {"sentinel": "127.0.0.1:26379", "listening": False, "error": "Timeout", "since": 1}
    assert listener_from_json(entry) == {**entry, "since": 1.0}
    for bad, why in [
        ([], "is an object, not list"),
        ({**entry, "listening": "no"}, "says if it is `listening`"),
        ({**entry, "error": 3}, "`error` is a string or null"),
        ({**entry, "since": True}, "`since` is a number"),
    ]:
        with pytest.raises(ValueError, match=why.replace("(", r"\(")):
            listener_from_json(bad)


def test_health_is_read_back_or_refused_with_why() -> None:
    assert health_from_json({"state": "down", "problems": ["no sentinel answers"]}) == {
        "state": "down",
        "problems": ["no sentinel answers"],
    }
    for bad, why in [
        (None, "is an object, not NoneType"),
        ({"state": "fine", "problems": []}, "one of ok, degraded, down"),
        ({"state": "ok", "problems": [1]}, "a list of strings"),
    ]:
        with pytest.raises(ValueError, match=why):
            health_from_json(bad)

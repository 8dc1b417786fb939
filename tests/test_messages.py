from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel_board.messages import Message, new_id, now_iso


@given(id=st.text(), text=st.text(), created_at=st.text())
def test_a_message_s_json_is_the_encoder_s_own(id: str, text: str, created_at: str) -> None:
    """Message.to_json writes the object itself: byte for byte what json.dumps writes."""
    fields = {"id": id, "message": text, "created_at": created_at}
    expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    assert Message(id, text, created_at).to_json() == expected


def test_the_time_is_isoformat_s_to_the_millisecond_across_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """now_iso keeps the date and time of one second: the next second writes its own."""
    base = 1_764_115_199  # 2025-11-25T23:59:59Z: the next second is another day
    for ns in (base * 10**9 + 999_999_999, (base + 1) * 10**9, (base + 1) * 10**9 + 7_000_000):
        monkeypatch.setattr(time, "time_ns", lambda ns=ns: ns)
        exact = datetime.fromtimestamp(ns // 10**9, UTC) + timedelta(
            microseconds=ns % 10**9 // 1000
        )
        assert now_iso() == exact.isoformat(timespec="milliseconds")
    monkeypatch.undo()
    assert abs(datetime.fromisoformat(now_iso()) - datetime.now(UTC)) < timedelta(seconds=5)


def test_ids_are_128_random_bits_in_hex() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch("[0-9a-f]{32}", each) for each in ids)

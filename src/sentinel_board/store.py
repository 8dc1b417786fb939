from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sentinel_board.config import RateLimit
from sentinel_board.ha import RedisHA, Script
from sentinel_board.keys import Keys

# KEYS: UNREAD, dedup key, the client's rate key. ARGV: message JSON, dedup TTL (s),
# posts allowed per window (0: no limit), the window (ms), what a replay needs (see Replay).
# The dedup key is written with the message, so a replica that has one has both.
# A replay is answered before the rate limit: retrying a post never costs a second one.
PUSH = Script("""
local seen = redis.call('GET', KEYS[2])
if seen then
  return {seen, 1}
end
if tonumber(ARGV[3]) > 0 then
  local used = redis.call('INCR', KEYS[3])
  if used == 1 then
    redis.call('PEXPIRE', KEYS[3], ARGV[4])
  end
  if used > tonumber(ARGV[3]) then
    return {'', 2, redis.call('PTTL', KEYS[3])}
  end
end
local count = redis.call('RPUSH', KEYS[1], ARGV[1])
local result = count .. '\\n' .. ARGV[5]
redis.call('SET', KEYS[2], result, 'EX', ARGV[2])
return {result, 0}
""")
# What PUSH says it did, second in its reply.
STORED, REPLAYED, RATE_LIMITED = 0, 1, 2

# KEYS: UNREAD, READ. ARGV: batch size. Moves the oldest unread to the end of READ.
FLUSH_BATCH = Script("""
local items = redis.call('LPOP', KEYS[1], ARGV[1])
if not items then
  return {0, 0}
end
redis.call('RPUSH', KEYS[2], unpack(items))
return {#items, redis.call('LLEN', KEYS[1])}
""")

# KEYS: the probe key. ARGV: a value. What a readiness check writes (and WAITs for).
PROBE = Script("""
redis.call('SET', KEYS[1], ARGV[1], 'EX', 60)
return 1
""")

FLUSH_BATCH_SIZE = 1000
# A retry that began just before the failover deadline may land a little after it.
RETRY_MARGIN = 30  # seconds


def retry_window(failover_deadline: float) -> int:
    """How long the app may retry a write, in seconds: how long it keeps its own dedup keys."""
    return math.ceil(failover_deadline) + RETRY_MARGIN


# json.dumps with options makes an encoder per call: 4% of a post in the profile.
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_string = _COMPACT.encode  # a str as a JSON string, as the encoder writes one in an object


def new_id() -> str:
    """A message's id: 128 random bits in hex (uuid4's hex without its fixed version bits,
    and without building a UUID: a tenth of the time)."""
    return os.urandom(16).hex()


@functools.lru_cache(maxsize=1)
def _date_and_time(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def now_iso() -> str:
    """The time now in UTC, as datetime's isoformat(timespec="milliseconds") writes it, the
    date and time made once a second (isoformat each time: 6% of a post in the profile)."""
    second, ms = divmod(time.time_ns() // 1_000_000, 1000)
    return f"{_date_and_time(second)}.{ms:03d}+00:00"


@dataclass(frozen=True)
class Message:
    id: str
    message: str
    created_at: str

    def to_json(self) -> str:
        """The encoder's own bytes for the object of the three fields (a test checks),
        made without its walk through a dict: a twentieth of the time."""
        return (
            f'{{"id":{_string(self.id)},"message":{_string(self.message)},'
            f'"created_at":{_string(self.created_at)}}}'
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Message:
        try:
            data = json.loads(raw)
            return cls(
                id=str(data["id"]),
                message=str(data["message"]),
                created_at=str(data.get("created_at", "")),
            )
        except (ValueError, KeyError, TypeError):
            # Not written by us: shown as it is rather than hidden.
            text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
            return cls(id="", message=text, created_at="")


class KeyReused(Exception):
    """An Idempotency-Key already stored with another message: nothing is stored."""

    def __init__(self) -> None:
        super().__init__("Idempotency-Key: already used for a different message")


def digest(text: str) -> str:
    """What a replay compares texts by: 96 bits, enough to tell two texts apart."""
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def replay_record(message: Message) -> str:
    """What the dedup key keeps after the unread count: a replay answers with the first
    message's id and time, and the text it is sent again with, once the digests agree."""
    return f"{message.id}\n{message.created_at}\n{digest(message.message)}"


def replayed_message(stored: bytes, text: str) -> Message:
    """The first message stored with a key, from its record; KeyReused for another text."""
    if stored.startswith(b"{"):  # the whole message, as versions before the record kept it
        first = Message.from_json(stored)
        if first.message != text:
            raise KeyReused
        return first
    ident, created_at, kept = stored.decode().split("\n")
    if kept != digest(text):
        raise KeyReused
    return Message(ident, text, created_at)


class RateLimited(Exception):
    def __init__(self, limit: RateLimit, retry_after: int) -> None:
        super().__init__(f"more than {limit.posts} posts in {limit.window:g} s from this client")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Pushed:
    message: Message
    unread_count: int
    replayed: bool


@dataclass(frozen=True)
class StoredGroup:
    unread: list[bytes]  # each message's JSON, as stored
    read: list[bytes]
    unread_total: int
    read_total: int


@dataclass(frozen=True)
class MessageGroup:
    unread: list[Message]
    read: list[Message]
    unread_total: int
    read_total: int


class MessageStore:
    def __init__(
        self,
        redis: RedisHA,
        *,
        key_prefix: str = "",
        dedup_ttl: int = 86400,
        rate_limit: RateLimit | None = None,
    ) -> None:
        """`dedup_ttl`: how long a client's Idempotency-Key is remembered. An id the store
        makes itself is remembered only while the app may retry its write."""
        self.redis = redis
        self.keys = Keys(key_prefix)
        self.retry_window = retry_window(redis.config.failover_deadline)
        self.rate_limit = rate_limit
        self.dedup_ttl = dedup_ttl

    async def push(
        self, text: str, *, idempotency_key: str | None = None, client: str = ""
    ) -> Pushed:
        """Append to UNREAD; the same key (by default the new message's id) is stored once:
        again with the same text it replays the first result, with another raises KeyReused.
        With a rate limit, `client`'s posts beyond it raise RateLimited."""
        message = Message(id=new_id(), message=text, created_at=now_iso())
        if idempotency_key:
            dedup_key, ttl = self.keys.idempotency_key(idempotency_key), self.dedup_ttl
        else:
            dedup_key, ttl = self.keys.message_id(message.id), self.retry_window
        limit = self.rate_limit
        raw, outcome, *wait_ms = await self.redis.write(
            PUSH,
            [self.keys.unread, dedup_key, self.keys.rate(client)],
            [
                message.to_json(),
                ttl,
                limit.posts if limit else 0,
                math.ceil(limit.window * 1000) if limit else 0,
                replay_record(message),
            ],
        )
        if outcome == RATE_LIMITED:
            assert limit is not None
            raise RateLimited(limit, max(1, math.ceil(wait_ms[0] / 1000)))
        count, _, stored = raw.partition(b"\n")
        if outcome == REPLAYED and idempotency_key:  # the first post with this key, as stored
            return Pushed(replayed_message(stored, text), int(count), True)
        # Without a client's key, the key is this message's own id: a REPLAYED outcome is an
        # attempt that failed (not acknowledged in time) found by its retry. That is this
        # post, not a replay of another: the client is not told it was replayed.
        return Pushed(message, int(count), False)

    async def check_writable(self, within: float) -> None:
        """A write to the master that a replica confirms, or Unavailable saying why."""
        await self.redis.write(
            PROBE, [self.keys.probe], [datetime.now(UTC).isoformat()], within=within
        )

    async def unread_size(self) -> int:
        return int(await self.redis.call("LLEN", self.keys.unread, stale_ok=True, shared=True))

    async def read_group(self, limit: int, offset: int = 0) -> MessageGroup:
        """`limit` messages of each list (oldest first) after skipping its `offset` newest,
        with both totals, as one snapshot. O(offset + limit), whatever the lists' length."""
        raw = await self.read_stored(limit, offset)
        return MessageGroup(
            unread=[Message.from_json(m) for m in raw.unread],
            read=[Message.from_json(m) for m in raw.read],
            unread_total=raw.unread_total,
            read_total=raw.read_total,
        )

    async def read_stored(self, limit: int, offset: int = 0) -> StoredGroup:
        """As `read_group`, the messages as Redis holds them (JSON), for a reader that keeps
        what it made of each: a stored message never changes."""
        start, stop = -(offset + limit), -(offset + 1)
        unread, read, unread_total, read_total = await self.redis.transaction(
            ("LRANGE", self.keys.unread, start, stop),
            ("LRANGE", self.keys.read, start, stop),
            ("LLEN", self.keys.unread),
            ("LLEN", self.keys.read),
            stale_ok=True,
            shared=True,
        )
        return StoredGroup(unread, read, int(unread_total), int(read_total))

    async def flush(self) -> int:
        """Move every unread message to the end of READ, a batch at a time.

        Each batch is one atomic script, so a message is always in exactly one
        list; a retry after an interruption moves what is left.
        """
        keys = [self.keys.unread, self.keys.read]
        moved, remaining = await self.redis.write(FLUSH_BATCH, keys, [FLUSH_BATCH_SIZE])
        total = int(moved)
        # Bounded by what was unread at the start, so steady writers cannot keep us here.
        for _ in range(math.ceil(int(remaining) / FLUSH_BATCH_SIZE)):
            moved, remaining = await self.redis.write(FLUSH_BATCH, keys, [FLUSH_BATCH_SIZE])
            total += int(moved)
            if not int(remaining):
                break
        return total

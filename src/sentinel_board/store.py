from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sentinel_board.config import RateLimit
from sentinel_board.grouping import Grouped
from sentinel_board.ha import RedisHA, Script
from sentinel_board.keys import Keys
from sentinel_board.messages import Message, new_id, now_iso, replay_record, replayed_message

# Posts, any number of them, in the order they came: a group (grouping.py), stored once.
# KEYS: UNREAD, the group's dedup key, then for each post: its client's rate key (with a rate
#   limit), and the dedup key of its Idempotency-Key (if it has one).
# ARGV: posts allowed per window (0: no limit), the window (ms), the group key's TTL (s), then
#   for each post: its message JSON, its Idempotency-Key's TTL (s; 0: none), what a replay of
#   it needs (see replay_record).
# A reply for each post, the second item what it did (below). Once a post without a key of
# its own is stored, the group's replies are kept with its messages, under the group's dedup
# key: a group sent again (the retry of an attempt that failed ambiguously) is answered them,
# and stores nothing twice (a post with a key is found by its key). A replica that has the
# messages has their keys. A replay of a client's key is answered before the rate limit:
# retrying a post never costs a second one. The messages go in with one RPUSH; each post's
# count is what RPUSH would have answered it alone.
PUSH = Script("""
local done = redis.call('GET', KEYS[2])
if done then
  return cmsgpack.unpack(done)
end
local limit, window = tonumber(ARGV[1]), ARGV[2]
local unread = redis.call('LLEN', KEYS[1])
local pushed, replies, key, keyless = {}, {}, 3, false
for i = 1, (#ARGV - 3) / 3 do
  local message, ttl, record = ARGV[3 * i + 1], tonumber(ARGV[3 * i + 2]), ARGV[3 * i + 3]
  local rate, own, seen
  if limit > 0 then
    rate, key = KEYS[key], key + 1
  end
  if ttl > 0 then
    own, key = KEYS[key], key + 1
    seen = redis.call('GET', own)
  end
  local used = 0
  if rate and not seen then
    used = redis.call('INCR', rate)
    if used == 1 then
      redis.call('PEXPIRE', rate, window)
    end
  end
  if seen then
    replies[i] = {seen, 1}
  elseif rate and used > limit then
    replies[i] = {'', 2, redis.call('PTTL', rate)}
  else
    pushed[#pushed + 1] = message
    local count = tostring(unread + #pushed)
    if own then
      count = count .. '\\n' .. record
      redis.call('SET', own, count, 'EX', ttl)
    else
      keyless = true
    end
    replies[i] = {count, 0}
  end
end
if #pushed > 0 then
  redis.call('RPUSH', KEYS[1], unpack(pushed))
end
if keyless then
  redis.call('SET', KEYS[2], cmsgpack.pack(replies), 'EX', ARGV[3])
end
return replies
""")
# What PUSH says it did, second in its reply.
STORED, REPLAYED, RATE_LIMITED = 0, 1, 2

# PUSH for a group of plain posts (no Idempotency-Key, no rate limit: the usual kind), with
# less to do in Redis and in the app: each post's count is the unread count before the group
# plus its place, so that one number is the reply, and what the group's dedup key keeps.
# KEYS: UNREAD, the group's dedup key. ARGV: the dedup key's TTL (s), then each message JSON.
PUSH_PLAIN = Script("""
local before = redis.call('GET', KEYS[2])
if before then
  return tonumber(before)
end
before = redis.call('RPUSH', KEYS[1], unpack(ARGV, 2)) - (#ARGV - 1)
redis.call('SET', KEYS[2], before, 'EX', ARGV[1])
return before
""")

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
PUSH_GROUP = 256  # posts in one script at most (Lua's unpack takes a few thousand)


class Post(NamedTuple):
    message: str  # its JSON
    record: str  # what a replay of it needs
    rate_key: str  # its client's
    own_key: str | None  # the dedup key of its Idempotency-Key
    own_ttl: int  # how long that is kept (s)
    arrived: float = 0.0  # when it was posted (the event loop's time)


def push_call(
    keys: Keys, group: str, posts: Sequence[Post], limit: RateLimit | None, ttl: int
) -> tuple[list[str], list[str | int]]:
    """PUSH's keys and arguments for `posts`, as the group `group` (its dedup key kept `ttl`
    seconds). A post's keys are there exactly when the script reads them: a rate key with a
    limit of posts, its own key with a TTL."""
    allowed = limit.posts if limit else 0
    names = [keys.unread, keys.post_group(group)]
    args: list[str | int] = [allowed, math.ceil(limit.window * 1000) if limit else 0, ttl]
    for post in posts:
        if allowed > 0:
            names.append(post.rate_key)
        if post.own_key:
            if post.own_ttl < 1:
                raise ValueError("a post's own dedup key needs a TTL of 1 s at least")
            names.append(post.own_key)
        args += (post.message, post.own_ttl if post.own_key else 0, post.record)
    return names, args


# A retry that began just before the failover deadline may land a little after it.
RETRY_MARGIN = 30  # seconds


def retry_window(failover_deadline: float) -> int:
    """How long the app may retry a write, in seconds: how long it keeps its own dedup keys."""
    return math.ceil(failover_deadline) + RETRY_MARGIN


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
        """`dedup_ttl`: how long a client's Idempotency-Key is remembered (at least while the
        app may retry its write). A group of posts the store sends is remembered for the retry
        window alone."""
        self.redis = redis
        self.keys = Keys(key_prefix)
        self.retry_window = retry_window(redis.config.failover_deadline)
        self.rate_limit = rate_limit
        self.dedup_ttl = max(dedup_ttl, self.retry_window)
        self._posts = Grouped(self._push_group, most=PUSH_GROUP)

    async def _push_group(self, posts: list[Post]) -> list[Any]:
        """The posts of one group in one script: each one's reply (PUSH's), or for a group of
        plain posts (PUSH_PLAIN) each one's count. The failover deadline counts from the first
        post's arrival: a post waits for a master no longer than it would have alone, however
        long the group before it took."""
        group, since = new_id(), posts[0].arrived  # they come in the order they came
        if self.rate_limit is None and all(post.own_key is None for post in posts):
            plain: list[str | int] = [self.retry_window, *(post.message for post in posts)]
            before = int(await self.redis.write(
                PUSH_PLAIN, [self.keys.unread, self.keys.post_group(group)], plain, since=since
            ))  # fmt: skip
            return list(range(before + 1, before + 1 + len(posts)))
        keys, args = push_call(self.keys, group, posts, self.rate_limit, self.retry_window)
        replies: list[Any] = await self.redis.write(PUSH, keys, args, since=since)
        return replies

    async def push(
        self, text: str, *, idempotency_key: str | None = None, client: str = ""
    ) -> Pushed:
        """Append to UNREAD, with the posts of concurrent requests (one script for them all,
        stored once however often the HA layer sends it). A client's `idempotency_key` is
        stored once: again with the same text it replays the first result, with another
        raises KeyReused. With a rate limit, `client`'s posts beyond it raise RateLimited."""
        message = Message(id=new_id(), message=text, created_at=now_iso())
        if idempotency_key:
            own, record = self.keys.idempotency_key(idempotency_key), replay_record(message)
        else:
            own, record = None, ""
        limit = self.rate_limit
        rate_key = self.keys.rate(client) if limit else ""  # sent only with a limit
        post = Post(message.to_json(), record, rate_key, own, self.dedup_ttl,
                    asyncio.get_running_loop().time())  # fmt: skip
        reply = await self._posts(post)
        if type(reply) is int:  # a plain post's count
            return Pushed(message, reply, False)
        raw, outcome, *wait_ms = reply
        if outcome == RATE_LIMITED:
            assert limit is not None
            raise RateLimited(limit, max(1, math.ceil(wait_ms[0] / 1000)))
        count, _, stored = raw.partition(b"\n")
        if outcome == REPLAYED:  # the first post with this key, as stored
            first = replayed_message(stored, text)  # this one, found by its retry: no replay
            return Pushed(first, int(count), first.id != message.id)
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

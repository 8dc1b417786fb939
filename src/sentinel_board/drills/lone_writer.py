"""A client left alone with a partitioned master: it writes as the board does, and notes
which writes the master took and which a replica confirmed. Run inside the master's
network namespace: `python -m sentinel_board.drills.lone_writer PORT SECONDS OUT`.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

import redis

from sentinel_board.keys import Keys
from sentinel_board.messages import Message
from sentinel_board.store import PUSH, Post, push_call


def main(port: int, seconds: float, out: str) -> None:
    client = redis.Redis(
        port=port,
        username=os.environ.get("SENTINEL_BOARD_REDIS_USERNAME"),
        password=os.environ.get("SENTINEL_BOARD_REDIS_PASSWORD"),
        socket_timeout=2,
        socket_connect_timeout=1,
    )
    keys = Keys()
    deadline = time.monotonic() + seconds
    with open(out, "w") as log:
        while time.monotonic() < deadline:
            message = Message(uuid.uuid4().hex, f"isolated-{uuid.uuid4().hex[:8]}", "")
            accepted = acked = False
            try:
                post = Post(message.to_json(), "", "", None, 0)  # no rate limit, no client key
                names, args = push_call(keys, uuid.uuid4().hex, [post], None, 60)
                client.eval(PUSH.body, len(names), *names, *args)
                accepted = True
                acked = int(client.wait(1, 300)) >= 1
            except redis.RedisError:
                time.sleep(0.05)
            record = {"at": time.time(), "message": message.message, "accepted": accepted}
            log.write(json.dumps({**record, "acked": acked}) + "\n")
            log.flush()


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3])

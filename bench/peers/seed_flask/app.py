"""The seed's Spring controller, translated literally to Flask: the yardstick of `make bench`.

What a user porting the seed to Python would write, no tuning either way: Flask and Jinja
templates where the seed has Thymeleaf, redis-py's synchronous Sentinel client where it has
Lettuce's, `RedisMessageClient` call for call (one Redis round trip each) and its flush (size,
pop, push: not atomic). Served by gunicorn with 4 workers (bench/servers.py).

Settings, from the environment: SENTINELS (host:port,...), MASTER_NAME (mymaster),
REDIS_PASSWORD and SENTINEL_PASSWORD (none).
"""

import json
import os
import uuid

from flask import Flask, render_template, request
from redis.sentinel import Sentinel

UNREAD, READ = "UNREAD", "READ"  # the seed's Queue enum

sentinels = [
    (host, int(port))
    for host, port in (address.split(":") for address in os.environ["SENTINELS"].split(","))
]
sentinel = Sentinel(
    sentinels, sentinel_kwargs={"password": os.environ.get("SENTINEL_PASSWORD") or None}
)
redis = sentinel.master_for(
    os.environ.get("MASTER_NAME", "mymaster"), password=os.environ.get("REDIS_PASSWORD") or None
)
app = Flask(__name__)


# RedisMessageClient
def get_unread_messages_size():
    return redis.llen(UNREAD)


def push_message(message):
    body = {"id": str(uuid.uuid4()), "message": message}
    redis.rpush(UNREAD, json.dumps(body))


def read_message_group():
    unread_size = redis.llen(UNREAD)
    unread = [json.loads(m) for m in redis.lrange(UNREAD, 0, unread_size)]
    read_size = redis.llen(READ)
    read = [json.loads(m) for m in redis.lrange(READ, 0, read_size)]
    return unread, read


def flush_unread_messages():
    unread_size = redis.llen(UNREAD)
    unread = redis.rpop(UNREAD, unread_size) or []
    if len(unread) != 0:
        redis.rpush(READ, *unread)


# RedisController
@app.get("/")
def index():
    return render_template("index.html", unread_list_size=get_unread_messages_size())


@app.post("/message")
def create_message():
    push_message(request.form["message"])
    return render_template("fragment.html", unread_list_size=get_unread_messages_size())


@app.get("/unread-list/size")
def get_unread_list_size():
    return render_template("fragment.html", unread_list_size=get_unread_messages_size())


@app.get("/messages")
def messages():
    unread, read = read_message_group()
    return render_template("messages.html", read_messages=read, unread_messages=unread)


@app.post("/messages/flush")
def flush_messages():
    flush_unread_messages()
    return ""

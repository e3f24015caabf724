"""What the tests share: model-like objects, the notification a client must receive, and a
barrier that shows nothing else was delivered before it."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from pathlib import Path
from types import SimpleNamespace

import harness

SOURCE_DIR = Path(os.environ.get("HERALD_SOURCE_DIR", Path(__file__).resolve().parents[3]))

PROJECT = SimpleNamespace(id=2, title="Mobile App Development")
JANE = SimpleNamespace(id=5, username="jane_smith", first_name="Jane", last_name="Smith")
BOB = SimpleNamespace(id=7, username="bob", first_name="Bob", last_name="Brown")
ACTOR = {"id": 5, "username": "jane_smith", "first_name": "Jane", "last_name": "Smith"}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
HEX_ID = re.compile(r"[0-9a-f]{32}\Z")

_barriers = itertools.count(1)


def notification(title, message, data, *, event_type="milestone_created", actor=ACTOR,
                 project=PROJECT, timestamp=None):
    """The message a client must receive (without "pos"; timestamp None: checked apart)."""
    msg = {"type": "notification_received", "title": title, "message": message,
           "event_type": event_type, "actor": actor,
           "project_id": project.id if project else None,
           "project_title": project.title if project else None, "data": data}
    if timestamp is not None:
        msg["timestamp"] = timestamp
    return msg


async def receive(ws):
    """The next notification, without its "pos"; a default timestamp is checked to be ISO."""
    msg = harness.without_pos(await harness.recv_json(ws))
    assert ISO.match(msg.get("timestamp", "")), msg
    return msg


def same(received, expected):
    """`received` equals `expected`, which may leave the (checked) timestamp out."""
    if "timestamp" not in expected:
        received = {k: v for k, v in received.items() if k != "timestamp"}
    assert received == expected


def barrier_event(user):
    """An event for `user` alone, to follow what must not arrive."""
    n = next(_barriers)
    return {"event_type": "barrier", "users": [user], "data": {"barrier": n}}, n


async def expect_barrier(ws, n):
    """The next message must be barrier `n`: nothing was delivered to `ws` before it."""
    msg = await harness.recv_json(ws)
    assert msg.get("event_type") == "barrier" and msg.get("data") == {"barrier": n}, \
        f"expected nothing before barrier {n}, got {msg}"


async def in_thread(func, *args, **kwargs):
    """Run blocking code (the sync client, Django) off the event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)

"""herald.Client over the Redis stream, against a real redis-server and a real herald reading
it with its redis source."""

import json
import time

import pytest

import harness
import redis_harness
from helpers import (BOB, HEX_ID, JANE, PROJECT, barrier_event, expect_barrier, in_thread,
                     notification, receive, same)

from herald import AuthenticationFailed, Client, RetryPolicy, Unavailable


async def test_notify_project_team_through_the_stream(stream_hub):
    server = stream_hub.redis
    jane = await harness.connect(stream_hub.daemon, user=5)
    bob = await harness.connect(stream_hub.daemon, user=7)
    for ws in (jane, bob):
        await harness.subscribe(ws, 2)
    with Client.stream(server.url()) as client:
        receipt = await in_thread(
            client.notify_project_team, project=PROJECT, event_type="milestone_created",
            actor_user=JANE, title="Milestone Created",
            message="Milestone 'Sprint Planning' has been created", exclude_user=JANE)
        assert receipt.accepted == 1 and len(receipt.entries) == 1
        same(await receive(bob), notification(
            "Milestone Created", "Milestone 'Sprint Planning' has been created",
            {"progress": 0}))
        event, n = barrier_event(5)
        await in_thread(client.publish, event)
        await expect_barrier(jane, n)
    # The entry holds the event with its id, and Herald acknowledged it.
    [(entry, fields)] = server.client().xrange(redis_harness.STREAM, receipt.entries[0],
                                               receipt.entries[0])
    event = json.loads(fields["event"])
    assert event["id"] == receipt.ids[0] and HEX_ID.match(event["id"])
    await redis_harness.wait_until(lambda: not redis_harness.pending_ids(server.client()),
                                   "herald acknowledged every entry")


async def test_publish_many_is_one_transaction_in_order(stream_hub):
    server = stream_hub.redis
    bob = await harness.connect(stream_hub.daemon, user=7)
    events = [{"event_type": "step", "users": [BOB], "data": {"n": n}} for n in range(5)]
    with Client.stream(server.url(), maxlen=None) as client:
        receipt = await in_thread(client.publish_many, events)
    assert receipt.accepted == 5
    assert [(await receive(bob))["data"]["n"] for _ in range(5)] == list(range(5))
    entries = server.client().xrange(redis_harness.STREAM)
    assert [json.loads(f["event"])["id"] for _, f in entries] == receipt.ids


def test_a_refused_password_raises(redis_server):
    redis_server.client().config_set("requirepass", "right-password")
    with Client.stream(redis_server.url(), password="wrong-password") as client:
        with pytest.raises(AuthenticationFailed) as err:
            client.notify_user(7, "locked")
    assert "locked" in str(err.value) and "right-password" not in str(err.value)
    with Client.stream(redis_server.url()) as client:
        with pytest.raises(AuthenticationFailed, match="NOAUTH|Authentication required"):
            client.notify_user(7, "locked")
    url = f"redis://:right-password@127.0.0.1:{redis_server.port}/0"
    with Client.stream(url) as client:
        receipt = client.notify_user(7, "unlocked")
        assert receipt.accepted == 1 and "right-password" not in client.transport.target


def test_unreachable_redis_fails_within_the_bound():
    url = f"redis://127.0.0.1:{harness.free_port()}/0"
    with Client.stream(url, retry=RetryPolicy(total=1.0)) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable) as err:
            client.notify_user(7, "nobody_listens")
    assert time.monotonic() - started < 2.5 and err.value.attempts > 1
    assert "nobody_listens" in str(err.value)

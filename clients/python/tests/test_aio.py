"""herald.aio.AsyncClient against a real herald, over the webhook and the Redis stream."""

import json
import time

import pytest

import harness
import webhook_harness
from helpers import (BOB, JANE, PROJECT, barrier_event, expect_barrier, notification, receive,
                     same)

from herald import AuthenticationFailed, RetryPolicy, Unavailable
from herald.aio import AsyncClient


async def test_webhook_notify_and_keep_alive(hub):
    bob = await harness.connect(hub.daemon, user=7)
    await harness.subscribe(bob, 2)
    async with AsyncClient.webhook(hub.url, token=webhook_harness.TOKEN) as client:
        for n in range(3):  # one connection, several requests
            await client.notify_project_team(PROJECT, "milestone_updated", JANE,
                                             title="Milestone Updated", message=f"Step {n}",
                                             data={"id": n, "title": "S", "progress": n})
        for n in range(3):
            same(await receive(bob), notification("Milestone Updated", f"Step {n}",
                                                  {"id": n, "title": "S", "progress": n},
                                                  event_type="milestone_updated"))
        receipt = await client.notify_users([BOB], "digest")
        assert receipt.accepted == 1
        assert (await receive(bob))["title"] == "Digest"


async def test_webhook_503_then_success_delivers_once(hub, proxy):
    bob = await harness.connect(hub.daemon, user=7)
    proxy.plan.append(("503", 1))
    async with AsyncClient.webhook(proxy.url, token=webhook_harness.TOKEN) as client:
        started = time.monotonic()
        receipt = await client.notify_user(7, "retry_test", title="Once")
        assert time.monotonic() - started >= 1.0
        (h1, b1), (h2, b2) = proxy.posts()
        assert b1 == b2 and json.loads(b1)["id"] == receipt.ids[0]
        assert (await receive(bob))["title"] == "Once"
        event, n = barrier_event(7)
        await client.publish(event)
    await expect_barrier(bob, n)


async def test_webhook_errors(hub):
    async with AsyncClient.webhook(hub.url, token="wrong") as client:
        with pytest.raises(AuthenticationFailed) as err:
            await client.notify_user(7, "secret_stuff")
    assert err.value.status == 401
    url = f"http://127.0.0.1:{harness.free_port()}/events"
    async with AsyncClient.webhook(url, token="t", retry=RetryPolicy(total=1.0)) as client:
        with pytest.raises(Unavailable):
            await client.notify_user(7, "nobody_listens")


async def test_stream_notify(stream_hub):
    bob = await harness.connect(stream_hub.daemon, user=7)
    async with AsyncClient.stream(stream_hub.redis.url()) as client:
        receipt = await client.publish_many([
            {"event_type": "step", "users": [7], "data": {"n": n}} for n in range(3)])
        assert receipt.accepted == 3 and len(receipt.entries) == 3
    assert [(await receive(bob))["data"]["n"] for _ in range(3)] == [0, 1, 2]

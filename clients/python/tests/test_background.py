"""herald.background.BackgroundSender against a real herald: order, a full queue, failures
logged per event, and the flush when the interpreter exits."""

import logging
import os
import subprocess
import sys

import harness
import webhook_harness
from helpers import SOURCE_DIR, in_thread, receive

from herald import Client
from herald.background import BackgroundSender


async def test_queued_batches_are_sent_in_order(hub):
    bob = await harness.connect(hub.daemon, user=7)
    with Client.webhook(hub.url, token=webhook_harness.TOKEN) as client:
        sender = BackgroundSender(client.send, maxsize=100)
        for n in range(20):
            sender.submit(client.build.users([7], "step", data={"n": n}))
        assert await in_thread(sender.flush, 10) and sender.pending() == 0
        assert await in_thread(sender.close, 10)
    assert [(await receive(bob))["data"]["n"] for _ in range(20)] == list(range(20))


async def test_a_full_queue_sends_in_the_callers_thread(hub, caplog):
    bob = await harness.connect(hub.daemon, user=7)
    with Client.webhook(hub.url, token=webhook_harness.TOKEN) as client:
        sender = BackgroundSender(client.send, maxsize=1)
        with caplog.at_level(logging.WARNING, logger="herald"):
            for n in range(10):
                sender.submit(client.build.users([7], "step", data={"n": n}))
        assert await in_thread(sender.close, 10)
    got = sorted([(await receive(bob))["data"]["n"] for _ in range(10)])
    assert got == list(range(10))  # none lost, none twice (order may differ)
    assert any("queue full" in r.getMessage() for r in caplog.records)


async def test_failures_are_logged_with_each_events_type_and_id(hub, caplog):
    with Client.webhook(hub.url, token="wrong") as client:
        sender = BackgroundSender(client.send)
        batch = client.build.batch([{"event_type": "one", "users": [7]},
                                    {"event_type": "two", "users": [7]}])
        with caplog.at_level(logging.ERROR, logger="herald"):
            sender.submit(batch)
            assert await in_thread(sender.close, 10)
    records = [r for r in caplog.records if r.name == "herald"]
    assert [(r.herald_event_type, r.herald_event_id) for r in records] == \
        [("one", batch.ids[0]), ("two", batch.ids[1])]
    assert all("401" in r.getMessage() for r in records)


EXITING = """
import sys
from herald import Client
from herald.background import BackgroundSender
client = Client.webhook(sys.argv[1], token=sys.argv[2])
sender = BackgroundSender(client.send)
sender.submit(client.build.users([7], "sent_at_exit"))
# no flush: the interpreter exits at once, and the sender's atexit hook sends it first
"""


async def test_what_is_queued_at_exit_is_sent(hub):
    bob = await harness.connect(hub.daemon, user=7)
    env = {**os.environ, "PYTHONPATH": str(SOURCE_DIR / "clients" / "python")}
    result = await in_thread(subprocess.run, [sys.executable, "-c", EXITING, hub.url,
                                              webhook_harness.TOKEN],
                             capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert (await receive(bob))["event_type"] == "sent_at_exit"

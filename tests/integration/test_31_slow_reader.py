"""A client that stops reading while ~50 MB of notifications go to its room: the hub closes it
(1013, "reconnect") once its send queue passes server.send_queue_bytes, keeps serving the
readers of the same room every notification in order, and its memory stays flat.

The memory bound. Sampled every 20 ms, herald's VmRSS may not rise more than RSS_BOUND (32 MiB)
above its level just before the flood. What the hub may legitimately hold meanwhile:
  - the slow client's send queue, at most send_queue_bytes = 1 MiB, plus one chunk lws keeps
    when a write is cut short (16 KiB);
  - the fast readers' queues: the producer below stays at most WINDOW = 32 notifications
    (~330 KiB) ahead of the slowest of them, so well under 1 MiB each, 3 MiB in all;
  - events on their way in: the stdin line buffer (1 MiB) and at most WINDOW parsed events;
  - the Lua state, which formats each 10 KiB data string (garbage collected; the default
    memory budget of 16 MiB caps it, and in practice it stays at a few MiB);
  - malloc's retained free memory after those churn through.
That is under ~10 MiB with room to spare for allocator slack on 32 MiB. A hub that queued
without bound for the slow client would instead hold nearly all of the 50 MiB it was sent (only
the few MiB the kernel's socket buffers absorb would be spared), so it cannot pass.
"""

import asyncio
import json
import os
import time

from harness import ACTOR, PROJECT, connect, make_token, milestone_event, subscribe
from hard_harness import (RawWS, assert_healthy, is_asan_build, open_connections, rss_kib,
                          wait_until)

N = 5000  # notifications in the flood
BLOB = 10 * 1024  # bytes of data per notification: ~50 MiB in all
WINDOW = 32  # how far the producer may run ahead of the slowest fast reader
WARMUP = 200
QUEUE_BYTES = 1 << 20
RSS_BOUND = 32 * 1024  # KiB, see above
FAST_USERS = (11, 12, 13)


def flood_event(data_id):
    # An event type without a script of its own: default.lua passes `data` through whole.
    return {"event_type": "bulk_report", "project": PROJECT, "actor": ACTOR,
            "data": {"id": data_id, "blob": f"{data_id:08d}" + "x" * (BLOB - 8)}}


async def read_all(ws, got, count):
    """Append the data ids of the next `count` notifications on `ws` to `got`."""
    target = len(got) + count
    while len(got) < target:
        msg = json.loads(await ws.recv())
        assert msg["type"] == "notification_received" and \
            msg["data"]["blob"].startswith(f"{msg['data']['id']:08d}"), str(msg)[:200]
        got.append(msg["data"]["id"])


async def pump(herald, clients, got, ids):
    """Send the events `ids` while `clients` read them into `got` (one list each), staying at
    most WINDOW events ahead of the slowest reader: the readers keep up, as normal clients do,
    so only a client that stops reading can overflow its send queue."""
    ids = list(ids)
    base = [len(g) for g in got]
    readers = [asyncio.create_task(read_all(ws, g, len(ids))) for ws, g in zip(clients, got)]
    try:
        for i, data_id in enumerate(ids):
            while min(len(g) - b for g, b in zip(got, base)) < i - WINDOW:
                for task in readers:
                    if task.done():
                        task.result()  # a reader that failed fails the test now
                await asyncio.sleep(0.002)
            herald.send(flood_event(data_id))
        await asyncio.wait_for(asyncio.gather(*readers), 120)
    finally:
        for task in readers:
            task.cancel()


async def test_slow_reader_is_closed_others_get_everything_memory_flat(start_herald):
    env = None
    if is_asan_build():  # the quarantine would keep up to 256 MiB of freed memory resident
        env = {"ASAN_OPTIONS": ":".join(filter(None, [
            os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1",
            "thread_local_quarantine_size_kb=64"]))}
    herald = start_herald({"server": {"send_queue_bytes": QUEUE_BYTES}, "log": {"level": "info"}},
                          env=env)
    pid = herald.proc.pid

    fast = []
    for user in FAST_USERS:
        ws = await connect(herald, user)
        await subscribe(ws)
        fast.append(ws)
    got = [[] for _ in fast]

    # Warm up the formatter, the allocator and the clients before taking the baseline.
    await pump(herald, fast, got, range(-WARMUP, 0))
    for g in got:
        assert g == list(range(-WARMUP, 0))
        g.clear()

    # The slow reader: a receive buffer of a few KiB, set before connect, and never a recv()
    # after its subscription is confirmed.
    slow = await RawWS.connect(herald.port, make_token(7), rcvbuf=4096)
    await slow.send_json({"type": "subscribe_project", "project_id": PROJECT["id"]})
    await slow.sync()
    assert open_connections(herald) == 4

    baseline = rss_kib(pid)
    peak = [baseline]

    async def sample():
        while True:
            peak[0] = max(peak[0], rss_kib(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    try:
        await pump(herald, fast, got, range(N))
        peak[0] = max(peak[0], rss_kib(pid))
    finally:
        sampler.cancel()
    elapsed = time.monotonic() - started

    for g in got:
        assert g == list(range(N)), "a fast reader missed or reordered notifications"
    assert peak[0] - baseline <= RSS_BOUND, \
        f"RSS rose {(peak[0] - baseline) / 1024:.1f} MiB above the {baseline / 1024:.1f} MiB " \
        f"baseline (bound {RSS_BOUND / 1024:.0f} MiB)"
    # The slow client is gone from the hub's own count (it was over its queue long ago).
    await wait_until(lambda: open_connections(herald) == 3, what="slow client closed")
    herald.wait_for_log(r"send queue")

    # Now read what the slow client was sent: the bytes the kernel held, then the end. A close
    # frame, when one made it through, says 1013 (reconnect).
    how, code = await slow.wait_closed(timeout=30)
    assert how != "close" or code == 1013, f"slow reader closed with {code}, expected 1013"
    assert slow.texts < N, "the slow reader was sent everything: it was never cut off"

    assert_healthy(herald)
    print(f"flood of {N} x {BLOB} B in {elapsed:.1f} s; RSS baseline {baseline} KiB, peak "
          f"{peak[0]} KiB; slow client: {how} {code} after {slow.texts} notifications")


BURST = 3000  # notifications in one write to Herald's stdin: ~1 MiB, 16 times the queue bound


async def test_burst_over_the_queue_bound_reaches_a_client_that_reads(start_herald):
    """A client that reads is never taken for a slow one: a burst of ~1 MiB to its room, 16
    times server.send_queue_bytes, leaves as its socket takes it (a connection's frames are
    written once they fill a write, not only at the end of the loop's round), so it gets every
    notification, in order, and stays connected."""
    herald = start_herald({"server": {"send_queue_bytes": 65536,
                                      "max_notification_size": 16384}})
    ws = await connect(herald, 7)
    lines = [json.dumps(milestone_event(i, users=[7]), separators=(",", ":"))
             for i in range(BURST)]
    herald.send("\n".join(lines))
    got = []
    while len(got) < BURST:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert msg["type"] == "notification_received", msg
        got.append(msg["data"]["id"])
    assert got == list(range(BURST))
    assert "send queue" not in herald.log()
    herald.send(milestone_event(BURST, users=[7]))  # and it is still connected
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["data"]["id"] == BURST
    await ws.close()

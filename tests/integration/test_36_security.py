"""Regression tests of the core's findings in the security review (issue 11): each input once
crashed, stalled or swelled the hub. Every test checks the hub's answer and then that bystanders
lost nothing and /healthz still answers.

1. empty fragments of a fragmented message (a double free)
4. an oversized notification (closed a whole room, again at every resume)
5. project ids chosen to collide in the rooms table (hash flooding)
6. events to thousands of users nobody holds a connection for (unbounded rooms)
7. a rate-limited connection that stops reading (a close without a deadline)
8. a token whose exp is far in the future with auth.close_on_expiry (signed overflow)
10. "Upgrade: WebSocket" in another case (refused with 400)
"""

import asyncio
import base64
import os
import random
import re
import socket
import struct
import time

import harness
from harness import (PROJECT, connect, expect_error, make_token, milestone_event, recv_json,
                     subscribe, sync, ws_url)
from hard_harness import (Bystanders, RawWS, is_asan_build, open_connections, rss_kib,
                          wait_until)


def fragment(opcode, payload, fin):
    """One masked client frame with FIN set or not (RawWS.frame always sets it)."""
    mask = os.urandom(4)
    n = len(payload)
    head = struct.pack("!BB", (0x80 if fin else 0) | opcode, 0x80 | n) if n < 126 else \
        struct.pack("!BBH", (0x80 if fin else 0) | opcode, 0xFE, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def send_raw(raw, data):
    await asyncio.get_running_loop().sock_sendall(raw.sock, data)


def metric(herald, name):
    """The value of an unlabelled series of GET /metrics."""
    status, body = harness.http_get(herald.port, "/metrics")
    assert status == 200, body
    found = re.search(rf"^{name} (\S+)$", body, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


# ----------------------------------------------------------------------------- 1


async def test_empty_fragments_neither_crash_nor_confuse_the_connection(herald):
    bystanders = await Bystanders.join(herald)
    raw = await RawWS.connect(herald.port, make_token(7))
    # A text message in empty pieces: first fragment, two empty continuations, a final one.
    await send_raw(raw, fragment(0x1, b"", False) + fragment(0x0, b"", False) +
                   fragment(0x0, b"", False) + fragment(0x0, b"", True))
    msg = await raw.recv_json()
    assert msg.get("code") == "invalid_json", msg  # an empty message is not JSON
    # The same again, then a real message split around empty pieces still reassembles.
    body = b'{"type":"subscribe_project","project_id":' + str(PROJECT["id"]).encode() + b"}"
    await send_raw(raw, fragment(0x1, b"", False) + fragment(0x0, b"", False) +
                   fragment(0x0, body[:10], False) + fragment(0x0, b"", False) +
                   fragment(0x0, body[10:], True))
    await raw.sync()
    herald.send(milestone_event(61))
    msg = await raw.recv_json()
    assert msg["data"]["id"] == 61, msg
    await raw.close()
    await bystanders.check()


# ----------------------------------------------------------------------------- 4


async def test_oversized_notification_is_refused_and_the_room_stays(herald):
    members = [await connect(herald, 7), await connect(herald, 8)]
    for ws in members:
        await subscribe(ws)
    # 600 KB of title: the event itself is over server.max_notification_size (256 KiB).
    herald.send(milestone_event(1, title="x" * 600_000))
    herald.wait_for_log(r"line \d+.*larger than server\.max_notification_size \(262144 bytes\)")
    # 150 KB of title: a small enough event whose notification (the title twice) is not.
    herald.send(milestone_event(2, title="y" * 150_000))
    herald.wait_for_log(r"notification has \d+ bytes, over server\.max_notification_size")
    herald.send(milestone_event(3))
    for ws in members:
        msg = await recv_json(ws)
        assert msg["data"]["id"] == 3, f"expected only notification 3, got {str(msg)[:200]}"
    # A client resuming from before them is served without being closed.
    late = await harness.open_ws(ws_url(herald.port, make_token(9)))
    epoch, at = msg["pos"].split(":")
    before = f"{epoch}:{int(at.split('-')[0]) - 1}-0"
    await harness.send_json(late, {"type": "subscribe_project", "project_id": PROJECT["id"],
                                   "since": before})
    got = await recv_json(late)
    assert got["data"]["id"] == 3, str(got)[:200]
    await sync(late)


async def test_notification_limit_must_stay_under_the_send_queue(start_herald, tmp_path):
    path = harness.write_config(tmp_path / "bad.yaml", {
        "server": {"send_queue_bytes": 65536, "max_notification_size": 65536}})
    out = harness.run_herald(["check-config", "-c", str(path)])
    assert out.returncode != 0
    assert "server.max_notification_size" in out.stderr and "send_queue_bytes" in out.stderr, \
        out.stderr


# ----------------------------------------------------------------------------- 5


def colliding_ids(count):
    """Positive ids below 2^53 whose Fibonacci hash (id * 0x9e3779b97f4a7c15, bits 32 and up)
    falls in one short run of slots for every table size: multiples of a d for which d times
    the constant is close to a multiple of 2^49 (a convergent of its continued fraction)."""
    golden, modulus = 0x9E3779B97F4A7C15 % (1 << 49), 1 << 49
    # Convergents q of golden / modulus: |q * golden mod modulus| is small.
    a, b, q0, q1, best = golden, modulus, 1, 0, None
    while b:
        k = a // b
        a, b = b, a - k * b
        q0, q1 = q1, k * q1 + q0
        if q1 * count < (1 << 53):
            err = min(q1 * golden % modulus, modulus - q1 * golden % modulus)
            if err * count < (1 << 32):
                best = q1
    assert best, "no colliding step found"
    return [best * k for k in range(1, count + 1)]


async def subscribe_many(herald, projects_per_client):
    """Open one connection per list of project ids, subscribe each to its list at once, and
    return the seconds until every connection has answered a probe sent after them."""
    clients = []
    for i, _ in enumerate(projects_per_client):
        clients.append(await RawWS.connect(herald.port, make_token(1000 + i)))
    start = time.monotonic()
    for raw, ids in zip(clients, projects_per_client):
        await raw.send_json_at_once([{"type": "subscribe_project", "project_id": p}
                                     for p in ids] + [{"type": "sync_probe"}])
    for raw in clients:
        msg = await raw.recv_json(timeout=120)
        assert msg.get("code") == "unknown_type", msg
    elapsed = time.monotonic() - start
    for raw in clients:
        await raw.close()
    await wait_until(lambda: open_connections(herald) == 0, what="the clients left")
    return elapsed


async def test_colliding_project_ids_cost_what_random_ones_cost(start_herald):
    herald = start_herald({"server": {"message_rate": 0, "max_subscriptions": 120}})
    clients, per_client = 500, 120
    n = clients * per_client
    evil = colliding_ids(n)
    rnd = random.Random(11).sample(range(1, 1 << 53), n)
    # Same work, random ids first then chosen ones, in one run: compare the two.
    t_random = await subscribe_many(herald, [rnd[i::clients] for i in range(clients)])
    t_evil = await subscribe_many(herald, [evil[i::clients] for i in range(clients)])
    assert t_evil < 3 * t_random + 0.5, \
        f"{n} subscriptions: chosen ids took {t_evil:.2f} s, random ones {t_random:.2f} s"


# ----------------------------------------------------------------------------- 6


async def test_events_to_absent_users_stay_within_the_memory_bound(start_herald):
    bound = 8 << 20
    env = None
    if is_asan_build():  # the quarantine would keep up to 256 MiB of freed memory resident
        env = {"ASAN_OPTIONS": ":".join(filter(None, [
            os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=1",
            "thread_local_quarantine_size_kb=64"]))}
    herald = start_herald({"history": {"max_bytes": bound}}, env=env)
    bystanders = await Bystanders.join(herald)
    rss_before = rss_kib(herald.proc.pid)
    first = 1_000_000  # far from the bystanders' ids
    for batch in range(60):
        users = list(range(first + batch * 10000, first + 10000 + batch * 10000))
        herald.send(milestone_event(batch, users=users))
    present = await connect(herald, first + 599_999)  # the last user of the last batch
    await bystanders.check()  # every event before the bystanders' was routed
    assert metric(herald, "herald_rooms_bytes") <= bound
    assert metric(herald, "herald_history_evictions_total") > 0
    grown = rss_kib(herald.proc.pid) - rss_before
    assert grown < 200 * 1024, f"RSS grew by {grown} KiB for 600,000 absent users"
    await present.close()


async def test_resume_from_a_room_the_bound_dropped_is_expired(start_herald):
    herald = start_herald({"history": {"max_bytes": 1 << 20}})
    ws = await connect(herald, 1)
    herald.send(milestone_event(1, users=[1]))
    since = (await recv_json(ws))["pos"]
    await ws.close()
    for batch in range(3):  # crowd user 1's room out of the bound
        herald.send(milestone_event(10 + batch, users=list(range(2 + batch * 10000,
                                                                 10002 + batch * 10000))))
    herald.send(milestone_event(20, users=[1]))
    marker = await connect(herald, 777)
    herald.send(milestone_event(21, users=[777]))
    await recv_json(marker)
    assert metric(herald, "herald_history_evictions_total") > 0
    back = await harness.open_ws(ws_url(herald.port, make_token(1)) + f"&since={since}")
    msg = await recv_json(back)
    # Either the room kept 20 after the position (nothing lost), or it says expired.
    assert msg.get("type") == "resume_failed" and msg.get("reason") == "expired" or \
        msg.get("data", {}).get("id") == 20, msg


# ----------------------------------------------------------------------------- 7


async def test_rate_limited_reader_that_stops_reading_is_dropped(start_herald):
    herald = start_herald({"server": {"message_rate": 5, "message_burst": 5,
                                      "idle_timeout": 3, "ping_interval": 1,
                                      "send_queue_bytes": 64 << 20}})
    bystanders = await Bystanders.join(herald)
    raw = await RawWS.connect(herald.port, make_token(7), rcvbuf=4096)
    await raw.send_json({"type": "subscribe_project", "project_id": PROJECT["id"]})
    # Notifications it never reads, more than the kernel's buffers hold and less than
    # send_queue_bytes (no 1013): the hub's queue for it never empties.
    for i in range(1200):
        herald.send(milestone_event(100 + i, title="z" * 8000))
    await bystanders.check(1)
    # Then a burst of messages: refused for the rate, then closed with 1008 after a flush
    # that can never finish.
    await raw.send_json_at_once([{"type": "sync_probe"}] * 30)
    await wait_until(lambda: open_connections(herald) == len(bystanders.clients), timeout=15,
                     what="the rate-limited reader was dropped")
    await bystanders.check()


# ----------------------------------------------------------------------------- 8


async def test_far_future_expiry_with_close_on_expiry(start_herald):
    herald = start_herald({"auth": {"close_on_expiry": True}})
    token = make_token(7, payload=harness.claims(7, exp=1 << 62))
    ws = await connect(herald, 7, token=token)
    await subscribe(ws)
    await asyncio.sleep(1.5)
    herald.send(milestone_event(81))
    msg = await recv_json(ws)
    assert msg["data"]["id"] == 81, msg
    # And a token refreshed to a far expiry is no different.
    await harness.send_json(ws, {"type": "refresh_token",
                                 "token": make_token(7, payload=harness.claims(
                                     7, exp=(1 << 63) - 1))})
    await sync(ws)
    herald.send(milestone_event(82))
    assert (await recv_json(ws))["data"]["id"] == 82


# ----------------------------------------------------------------------------- 10


async def test_upgrade_header_is_case_insensitive(herald):
    for value in ("WebSocket", "WEBSOCKET", "websocket"):
        sock = socket.create_connection(("127.0.0.1", herald.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {harness.WS_PATH}?token={make_token(7)} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1\r\nUpgrade: {value}\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"closed without an answer for Upgrade: {value}"
            head += chunk
        sock.close()
        assert head.split(b"\r\n")[0].split()[1] == b"101", (value, head[:200])

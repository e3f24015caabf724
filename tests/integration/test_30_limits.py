"""Limits: connections (total and per user), subscriptions per connection, members per room,
message size, message rate, ping and idle timeout, oversized and half-open handshakes, the
stdin source's line length and a full ingest queue.

Each test pushes one limit, checks the answer the spec gives (HTTP status, error code, close
code), and then that bystanders in a room of their own received every notification sent while
it happened and that /healthz still answers 200.
"""

import asyncio
import json
import socket
import time

import websockets

from harness import (BARRIER_PROJECT, PROJECT, WS_PATH, connect, expect_error, expect_nothing_then, make_token,
                     milestone_event, recv_json, subscribe, sync, unsubscribe, ws_url)
from hard_harness import (Bystanders, RawWS, expect_close, expect_refused, open_client,
                          open_connections, wait_until)


def subscribe_text(project_id):
    return json.dumps({"type": "subscribe_project", "project_id": project_id})


async def receives(herald, clients, data_id, project=PROJECT):
    """An event to `project` reaches every one of `clients`."""
    herald.send(milestone_event(data_id, project=project))
    for ws in clients:
        msg = await recv_json(ws)
        assert msg["data"]["id"] == data_id and msg["project_id"] == project["id"], msg


# ----------------------------------------------------------------------------- connections


async def test_full_server_answers_503_with_retry_after(start_herald):
    herald = start_herald({"server": {"max_connections": 4}})
    bystanders = await Bystanders.join(herald)  # 2 of the 4
    members = [await connect(herald, 7), await connect(herald, 8)]
    for ws in members:
        await subscribe(ws)
    bystanders.send()

    for user in (9, 7, 9):  # a new user, a known one, and again: each is turned away
        refused = await expect_refused(ws_url(herald.port, make_token(user)), 503)
        assert refused.headers.get("Retry-After", "").isdigit(), \
            f"503 without a Retry-After in seconds: {dict(refused.headers)}"
    assert open_connections(herald) == 4

    await receives(herald, members, 1)
    await bystanders.check()

    await members.pop().close()  # a place frees up, and the next handshake gets it
    await wait_until(lambda: open_connections(herald) == 3, what="the hub saw the close")
    late = await connect(herald, 9)
    await subscribe(late)
    await receives(herald, members + [late], 2)
    await bystanders.check()


async def test_per_user_limit_answers_429_and_spares_other_users(start_herald):
    herald = start_herald({"server": {"max_connections_per_user": 2}})
    bystanders = await Bystanders.join(herald)
    tabs = [await connect(herald, 7), await connect(herald, 7)]
    for ws in tabs:
        await subscribe(ws)
    bystanders.send()

    for _ in range(2):
        await expect_refused(ws_url(herald.port, make_token(7)), 429)
    other = await connect(herald, 8)  # another user is not counted against user 7
    await subscribe(other)

    await receives(herald, tabs + [other], 1)
    await bystanders.check()

    await tabs.pop().close()
    await wait_until(lambda: open_connections(herald) == 4, what="the hub saw the close")
    tabs.append(await connect(herald, 7))  # the freed place is user 7's again
    await subscribe(tabs[-1])
    await receives(herald, tabs + [other], 2)
    await bystanders.check()


# ----------------------------------------------------------------------------- rooms


async def test_subscription_limit_refuses_more_and_keeps_the_connection(start_herald):
    herald = start_herald({"server": {"max_subscriptions": 3}})
    bystanders = await Bystanders.join(herald)
    projects = [{"id": i, "title": f"P{i}"} for i in (11, 12, 13, 14)]
    ws = await connect(herald, 7)
    for p in projects[:3]:
        await subscribe(ws, p["id"])
    bystanders.send()

    await ws.send(subscribe_text(14))
    await expect_error(ws, "too_many_subscriptions")
    await subscribe(ws, 12)  # again one it has: harmless at the limit, no error

    for data_id, p in enumerate(projects, 1):
        herald.send(milestone_event(data_id, project=p))
    for data_id in (1, 2, 3):
        assert (await recv_json(ws))["data"]["id"] == data_id
    await expect_nothing_then(ws, herald.send_barrier(user=7))  # nothing from project 14
    await bystanders.check()

    await unsubscribe(ws, 11)  # a subscription freed is a subscription to spend
    await subscribe(ws, 14)
    herald.send(milestone_event(5, project=projects[0]))
    herald.send(milestone_event(6, project=projects[3]))
    assert (await recv_json(ws))["data"]["id"] == 6
    await bystanders.check()


async def test_full_room_refuses_with_room_full_and_the_client_stays(start_herald):
    herald = start_herald({"server": {"max_room_members": 2}})
    bystanders = await Bystanders.join(herald)  # their own room, full as well: 2 members
    members = [await connect(herald, 7), await connect(herald, 8)]
    for ws in members:
        await subscribe(ws)
    late = await connect(herald, 9)
    bystanders.send()

    await late.send(subscribe_text(PROJECT["id"]))
    await expect_error(late, "room_full")
    await late.send(subscribe_text(PROJECT["id"]))  # asking again changes nothing
    await expect_error(late, "room_full")

    await receives(herald, members, 1)
    await expect_nothing_then(late, herald.send_barrier(user=9))  # connected, not in the room
    await bystanders.check()


# ----------------------------------------------------------------------------- messages


async def test_oversized_message_closes_with_1009_and_exact_limit_passes(start_herald):
    limit = 1024
    herald = start_herald({"server": {"max_message_size": limit}})
    bystanders = await Bystanders.join(herald)

    ws = await connect(herald, 7)
    exact = json.dumps({"type": "pad_"})
    exact = json.dumps({"type": "pad_" + "x" * (limit - len(exact))})
    assert len(exact) == limit
    await ws.send(exact)  # exactly the limit: handled as a message
    await expect_error(ws, "unknown_type")
    bystanders.send()
    await ws.send(exact[:-2] + 'xx"}')  # one byte over
    await expect_close(ws, 1009)
    await bystanders.check()

    # Fragments each under the limit add up to a message over it.
    ws = await connect(herald, 8)
    await subscribe(ws)
    bystanders.send()
    await ws.send(['{"type": "subscribe_project", "pad": "', "x" * 600, "y" * 600, '"}'])
    await expect_close(ws, 1009)
    await bystanders.check()


async def test_flood_is_rate_limited_and_the_refused_message_not_processed(start_herald):
    herald = start_herald({"server": {"message_rate": 2, "message_burst": 4}})
    bystanders = await Bystanders.join(herald)
    ws = await RawWS.connect(herald.port, make_token(7))
    other_tab = await connect(herald, 7)  # the bucket is per connection, not per user
    bystanders.send()

    # One write of 5 messages: the 4 of the burst pass, the 5th (a subscribe) is refused.
    await ws.send_json_at_once([{"type": "subscribe_project", "project_id": 21}] +
                               [{"type": "probe"}] * 3 +
                               [{"type": "subscribe_project", "project_id": 22}])
    answers = [(await ws.recv_json()).get("code") for _ in range(4)]
    assert answers == ["unknown_type"] * 3 + ["rate_limited"], answers
    await sync(other_tab)

    await asyncio.sleep(1.2)  # 2 tokens back at 2 per second; one refusal does not close
    await ws.sync()
    herald.send(milestone_event(1, project={"id": 21, "title": "P21"}))
    herald.send(milestone_event(2, project={"id": 22, "title": "P22"}))  # refused subscribe
    herald.send_barrier(user=7)
    assert (await ws.recv_json())["data"]["id"] == 1
    barrier = await ws.recv_json()
    assert barrier["project_id"] == BARRIER_PROJECT["id"], \
        f"the refused subscription to project 22 was processed: {barrier}"
    await bystanders.check()


async def test_sustained_flood_closes_with_1008(start_herald):
    burst = 4
    herald = start_herald({"server": {"message_rate": 2, "message_burst": burst}})
    bystanders = await Bystanders.join(herald)
    flooder = await RawWS.connect(herald.port, make_token(7))
    other_tab = await connect(herald, 7)
    await subscribe(other_tab)
    bystanders.send()

    # All in one write: the hub reads them in one go, as it would a real flood.
    await flooder.send_json_at_once([{"type": "probe"}] * (3 * burst))
    messages, code = await flooder.recv_until_close()
    assert code == 1008, f"expected close code 1008, got {code}"
    answers = [m.get("code") for m in messages]
    accepted, limited = answers.count("unknown_type"), answers.count("rate_limited")
    assert accepted + limited == len(answers), answers
    # Every answer the hub gave goes out before its close frame: those of the burst (a refill
    # may slip in one more), and rate_limited for each refused message, except that the one
    # completing `burst` refusals in a row may get the close instead.
    assert burst <= accepted <= burst + 1, \
        f"{accepted} answers to the {burst} messages of the burst arrived before the close"
    assert burst - 1 <= limited <= burst, \
        f"{limited} rate_limited answers arrived before the close, expected {burst - 1}+"

    await receives(herald, [other_tab], 1)
    await bystanders.check()


async def test_client_within_the_rate_is_never_limited(start_herald):
    herald = start_herald({"server": {"message_rate": 10, "message_burst": 3}})
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    for _ in range(12):  # 4 bursts' worth, at most 5 a second: each one answered as itself
        await sync(ws)
        await asyncio.sleep(0.2)
    await subscribe(ws)
    await receives(herald, [ws], 1)
    await bystanders.check()


# ----------------------------------------------------------------------------- heartbeat

PING, IDLE = 1, 3


async def test_client_that_never_answers_pings_is_dropped(start_herald):
    herald = start_herald({"server": {"ping_interval": PING, "idle_timeout": IDLE}})
    bystanders = await Bystanders.join(herald)  # they answer pings (websockets does)
    mute = await RawWS.connect(herald.port, make_token(7))
    await mute.send_json({"type": "subscribe_project", "project_id": PROJECT["id"]})
    await mute.sync()
    last_activity = time.monotonic()
    polite = await connect(herald, 8)
    await subscribe(polite)
    bystanders.send()

    how, _ = await mute.wait_closed(timeout=IDLE + 8)
    elapsed = time.monotonic() - last_activity
    assert mute.pings >= 1, "the server never pinged"
    assert IDLE - 0.5 <= elapsed <= IDLE + 2.5, \
        f"silent client dropped after {elapsed:.1f} s ({how}), idle_timeout is {IDLE} s"
    await wait_until(lambda: open_connections(herald) == 3, what="the hub forgot the client")

    # Well past idle_timeout, the clients that answer pings are still there.
    await asyncio.sleep(max(0.0, last_activity + IDLE + 3 - time.monotonic()))
    await receives(herald, [polite], 1)
    await bystanders.check()


async def test_client_that_keeps_talking_is_not_dropped_without_pongs(start_herald):
    herald = start_herald({"server": {"ping_interval": PING, "idle_timeout": IDLE}})
    bystanders = await Bystanders.join(herald)
    talker = await RawWS.connect(herald.port, make_token(7))
    await talker.send_json({"type": "subscribe_project", "project_id": PROJECT["id"]})
    await talker.sync()
    bystanders.send()

    started = time.monotonic()
    while time.monotonic() - started < IDLE + 3:  # a message a second, never a pong
        await asyncio.sleep(0.7)
        try:
            await talker.sync()
        except EOFError:
            raise AssertionError(f"dropped after {time.monotonic() - started:.1f} s although it "
                                 "sent a message every 0.7 s") from None
    herald.send(milestone_event(1))
    assert (await talker.recv_json())["data"]["id"] == 1
    await bystanders.check()


# ----------------------------------------------------------------------------- handshakes


async def test_oversized_handshakes_are_refused(start_herald):
    herald = start_herald()  # max_header_size 16384
    bystanders = await Bystanders.join(herald)
    bystanders.send()

    # A token longer than any real one (9 KB, within the header limit): 403 like any bad token.
    await expect_refused(ws_url(herald.port, make_token(7) + "x" * 9000), 403)
    # Headers over max_header_size: anything but an upgrade (lws may answer or just close).
    try:
        ws = await open_client(ws_url(herald.port, make_token(7)),
                               extra_headers={"X-Pad": "p" * 20000}, open_timeout=5)
    except (websockets.exceptions.WebSocketException, OSError, asyncio.TimeoutError):
        pass
    else:
        await ws.close()
        raise AssertionError("a handshake with 20 KB of headers was upgraded (max 16 KB)")
    await bystanders.check()


async def test_half_open_handshakes_take_no_place_and_are_dropped(start_herald):
    herald = start_herald({"server": {"max_connections": 3}})
    loop = asyncio.get_running_loop()
    stalled = []
    for _ in range(20):  # slowloris: a request that never ends
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", herald.port))
        await loop.sock_sendall(sock, f"GET {WS_PATH}?token={make_token(7)} HTTP/1.1\r\n"
                                      "Host: 127.0.0.1\r\n".encode())
        stalled.append(sock)
    started = time.monotonic()
    try:
        bystanders = await Bystanders.join(herald, users=(101, 102, 103))  # every place
        await bystanders.check()
        for sock in stalled:  # lws times the request out; nothing is ever answered
            left = started + 25 - time.monotonic()
            try:
                data = await asyncio.wait_for(loop.sock_recv(sock, 4096), max(left, 0.01))
            except asyncio.TimeoutError:
                raise AssertionError("a half-open handshake was kept over 25 s") from None
            except ConnectionResetError:
                data = b""
            assert data == b"", f"a half-sent request was answered: {data[:60]!r}"
        await bystanders.check()
    finally:
        for sock in stalled:
            sock.close()


# ----------------------------------------------------------------------------- sources


async def test_event_line_over_max_line_is_skipped_and_the_next_delivered(start_herald):
    herald = start_herald({"plugins": [{"name": "stdin", "options": {"max_line": 4096}}]})
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    bystanders.send()
    herald.send(milestone_event(1))
    long_line = herald.send(milestone_event(2, title="t" * 5000))
    herald.send(milestone_event(3))
    assert [(await recv_json(ws))["data"]["id"] for _ in range(2)] == [1, 3]
    herald.wait_for_log(rf"line {long_line}\b.*max_line")
    await bystanders.check()


async def test_full_ingest_queue_makes_the_source_wait_and_loses_nothing(start_herald):
    count = 3000
    herald = start_herald({"ingest": {"queue_size": 16}, "log": {"level": "info"}})
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    await subscribe(ws)

    def produce():  # in a thread, so that the clients keep reading meanwhile
        for i in range(count):
            herald.send(milestone_event(i))
        bystanders.send()

    producer = asyncio.create_task(asyncio.to_thread(produce))
    got = [(await recv_json(ws, 30))["data"]["id"] for _ in range(count)]
    await producer
    assert got == list(range(count))
    await bystanders.check()

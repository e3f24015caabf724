"""The redis source in stream mode, against a real redis-server: nothing lost and nothing twice
across a Redis restart, a SIGKILL of herald, and a clean stop; the hub keeps serving while Redis
is down; malformed entries go to the dead-letter stream and are acknowledged.

Every XADD of these tests gives the entry of data.id N the stream id N-0 (see redis_harness),
so what a client received can be compared with the stream exactly.
"""

import asyncio
import os
import re
import signal
import threading
import time

import websockets

import harness
from harness import connect, http_get, recv_json, subscribe, sync
from redis_harness import (GROUP, STREAM, data_id_of, entry_id, pending_ids, receive_ids,
                           redis_config, redis_server, wait_until, xadd, xadd_range,  # noqa: F401
                           xadd_retrying)

CONNECTED = r"\[redis\] connected to redis://127\.0\.0\.1:\d+/0: stream herald:events"
CONNECTED_AGAIN = r"\[redis\] connected again to redis://"
LOST = r"\[redis\] connection lost: .*, retrying"
HERALD_PASSWORD = "p@ss:word/with%odd chars"


async def test_all_events_arrive_once_and_in_order_across_a_redis_restart(redis_server,
                                                                         start_herald):
    herald = start_herald(redis_config(redis_server))
    herald.wait_for_log(CONNECTED)
    ws = await connect(herald)
    await subscribe(ws)

    # A back end adding events 1..1000 one by one, retrying an XADD that fails: while Redis is
    # down, its XADDs fail and are retried until Redis is back.
    producer = redis_server.client(socket_timeout=2, socket_connect_timeout=1)
    progress = {"added": 0, "failures": 0}

    def failed():
        progress["failures"] += 1

    def produce():
        for i in range(1, 1001):
            xadd_retrying(producer, i, failed)
            progress["added"] = i
            time.sleep(0.002)

    thread = threading.Thread(target=produce, daemon=True)
    received = []
    receiver = asyncio.ensure_future(receive_ids(ws, 1000, received, timeout=30))
    try:
        thread.start()
        await wait_until(lambda: progress["added"] >= 300, "300 events added")
        redis_server.stop()  # SIGTERM: Redis writes its append-only file and exits
        down_at = progress["added"]
        await wait_until(lambda: progress["failures"] >= 15, "XADDs failing while Redis is down")
        herald.wait_for_log(LOST)
        redis_server.start()  # same port, same dir: the stream and the group are back
        await asyncio.wait_for(receiver, 60)
    finally:
        receiver.cancel()
    thread.join(30)

    assert progress["added"] == 1000
    assert 300 <= down_at < 1000, down_at
    assert received == list(range(1, 1001)), "not every event exactly once and in order"
    herald.wait_for_log(CONNECTED_AGAIN)
    assert len(re.findall(LOST, herald.log())) == 1, "the loss is logged once"
    await wait_until(lambda: not pending_ids(redis_server.client()), "no pending entries")


async def test_herald_killed_and_restarted_ingests_each_entry_once(redis_server, start_herald,
                                                                   tmp_path):
    """Herald A is killed with entries in each of three states, then herald B takes over:

    - 1..300 were taken by A and acknowledged (XACK) before the kill;
    - 301..K (K <= 310) were delivered to A, which handed them to its clients, but not
      acknowledged: A's Redis user is refused XACK just before 301..310 are added, so they stay
      pending, and A, stuck retrying its XACK, reads no further;
    - K+1..600 were in the stream, never read.

    B runs under the same consumer name (the default: the host name). Its reads are held back
    (CLIENT PAUSE WRITE; XGROUP and XREADGROUP are writes) until a client of B subscribed, so
    that client sees everything B ingests. Exactly once means: it receives 301..1000 (the
    pending ones again, the unread ones, then 601..1000 added after it subscribed), each once
    and in order, and none of 1..300; and the group has no pending entry at the end.
    """
    admin = redis_server.client()
    admin.execute_command("ACL", "SETUSER", "herald", "on", f">{HERALD_PASSWORD}", "~*", "&*",
                          "+@all")
    # The user is in the url; the password comes from the environment (a SECRET option).
    config = redis_config(redis_server, url=f"redis://herald@127.0.0.1:{redis_server.port}/0",
                          password={"env": "HERALD_REDIS_PASSWORD"}, batch=10)
    env = {"HERALD_REDIS_PASSWORD": HERALD_PASSWORD}
    (tmp_path / "a").mkdir()
    herald_a = harness.Herald(tmp_path / "a", config, env).start()
    try:
        herald_a.wait_for_log(CONNECTED)
        w1 = await connect(herald_a)
        await subscribe(w1)
        xadd_range(admin, 1, 300)
        assert await receive_ids(w1, 300) == list(range(1, 301))
        await wait_until(lambda: not pending_ids(admin), "1..300 acknowledged")

        admin.execute_command("ACL", "SETUSER", "herald", "-xack")
        xadd_range(admin, 301, 310)
        herald_a.wait_for_log(r"\[redis\] connection lost: XACK: NOPERM")
        # From now on A retries its XACK before any read: it reads nothing more.
        xadd_range(admin, 311, 600)
        pending = pending_ids(admin)
        last = data_id_of(pending[-1])
        assert pending == [entry_id(i) for i in range(301, last + 1)] and last <= 310, pending
        # A handed every entry it read to the core: w1 gets them all.
        assert await receive_ids(w1, last - 300) == list(range(301, last + 1))

        os.kill(herald_a.proc.pid, signal.SIGKILL)
        herald_a.proc.wait(harness.STOP_TIMEOUT)
    finally:
        if herald_a.running():
            os.kill(herald_a.proc.pid, signal.SIGKILL)
            herald_a.proc.wait()
    assert pending_ids(admin) == pending, "the kill lost pending entries"

    admin.execute_command("ACL", "SETUSER", "herald", "+xack")
    admin.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
    try:
        herald_b = start_herald(config, env)
        w2 = await connect(herald_b)
        await subscribe(w2)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    xadd_range(admin, 601, 1000)
    assert await receive_ids(w2, 700, timeout=20) == list(range(301, 1001))
    # A barrier: the next event is the next message, so nothing else was delivered to w2.
    xadd(admin, 1001)
    assert (await recv_json(w2))["data"]["id"] == 1001
    await wait_until(lambda: not pending_ids(admin), "no pending entries at the end")


async def test_a_stop_under_back_pressure_repeats_nothing_and_loses_nothing(redis_server,
                                                                            start_herald):
    """SIGTERM while the plugin waits on a full ingest queue (16 events), in the middle of a
    batch it read: the entries the core took and delivered, some of them after the plugin's
    thread had stopped, are all acknowledged before herald exits; those it did not take stay
    pending; the next start delivers exactly these and the unread rest."""
    config = {**redis_config(redis_server, batch=500), "ingest": {"queue_size": 16}}
    herald = start_herald(config)
    herald.wait_for_log(CONNECTED)
    ws = await connect(herald)
    await subscribe(ws)
    admin = redis_server.client()
    xadd_range(admin, 1, 3000)

    received = []

    async def drain():
        try:
            while True:
                received.append((await recv_json(ws, timeout=20))["data"]["id"])
        except websockets.exceptions.ConnectionClosed:
            pass  # herald closed it, after the last notification

    task = asyncio.ensure_future(drain())
    await wait_until(lambda: len(received) >= 200, "200 events received")
    assert await asyncio.to_thread(herald.stop) == []
    await asyncio.wait_for(task, 20)
    taken = len(received)
    assert received == list(range(1, taken + 1)) and taken < 3000, taken
    pending = [data_id_of(i) for i in pending_ids(admin)]
    assert pending == list(range(taken + 1, taken + 1 + len(pending))), \
        f"{taken} taken, pending: {pending[:20]}..."

    # Reads held back until a client of the new daemon subscribed (see the SIGKILL test).
    admin.execute_command("CLIENT", "PAUSE", "30000", "WRITE")
    try:
        again = start_herald(config)
        ws = await connect(again)
        await subscribe(ws)
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    assert await receive_ids(ws, 3000 - taken, timeout=30) == list(range(taken + 1, 3001))
    xadd(admin, 3001)
    assert (await recv_json(ws))["data"]["id"] == 3001, "an event was delivered twice"
    await wait_until(lambda: not pending_ids(admin), "no pending entries at the end")


async def test_the_hub_keeps_serving_while_redis_is_down(redis_server, start_herald):
    herald = start_herald(redis_config(redis_server, backoff_max_ms=200))
    herald.wait_for_log(CONNECTED)
    ws = await connect(herald)
    await subscribe(ws)

    redis_server.stop()
    herald.wait_for_log(LOST)
    deadline = time.monotonic() + 2.5  # a dozen reconnects at the 200 ms cap
    while time.monotonic() < deadline:
        assert http_get(herald.port, "/healthz")[0] == 200
        await sync(ws)  # the open connection answers
        await sync(await connect(herald, user=8))  # new ones are accepted
        await asyncio.sleep(0.2)
    log = herald.log()
    assert len(re.findall(LOST, log)) == 1, "the loss must be logged once, not per retry"
    assert len(re.findall(r"debug +\[redis\] retry failed: Connection refused", log)) >= 3
    assert not re.search(r"\[redis\] cannot connect", log)

    redis_server.start()
    herald.wait_for_log(CONNECTED_AGAIN)
    xadd(redis_server.client(), 7)
    assert (await recv_json(ws))["data"]["id"] == 7


async def test_malformed_entries_go_to_the_dead_letter_stream(redis_server, start_herald):
    client = redis_server.client()
    # Added before herald's first start: the group is created at 0, so these are read too.
    xadd(client, 1, event="this is not json {")
    xadd(client, 2, other="no event field")
    xadd(client, 3, event='{"event_type":"milestone_updated","project":{"id":"x"}}')
    herald = start_herald(redis_config(redis_server, dead_letter="herald:dead"))
    herald.wait_for_log(CONNECTED)
    ws = await connect(herald)
    await subscribe(ws)
    xadd(client, 4)
    assert (await recv_json(ws))["data"]["id"] == 4

    await wait_until(lambda: client.xlen("herald:dead") == 3, "3 dead letters")
    dead = {f["herald_id"]: f for _, f in client.xrange("herald:dead")}
    assert sorted(dead) == ["1-0", "2-0", "3-0"]
    for fields in dead.values():
        assert fields["herald_stream"] == STREAM
    assert dead["1-0"]["herald_error"].startswith("event: invalid JSON")
    assert dead["1-0"]["event"] == "this is not json {"  # the entry's own fields, unchanged
    assert dead["2-0"]["herald_error"] == "no field `event`"
    assert dead["2-0"]["other"] == "no event field"
    assert dead["3-0"]["herald_error"].startswith("project.id: ")
    for n, why in [(1, "event: invalid JSON"), (2, "no field `event`"), (3, "project.id")]:
        herald.wait_for_log(rf"warn +\[redis\] entry {n}-0 of {STREAM} refused \({re.escape(why)}")
    await wait_until(lambda: not pending_ids(client), "the refused entries acknowledged")
    assert client.xinfo_groups(STREAM)[0]["name"] == GROUP


async def test_a_full_ingest_queue_slows_reading_down_without_loss(redis_server, start_herald):
    # The smallest queue the core accepts: the plugin meets "queue full" again and again.
    herald = start_herald({**redis_config(redis_server, batch=500), "ingest": {"queue_size": 16}})
    herald.wait_for_log(CONNECTED)
    ws = await connect(herald)
    await subscribe(ws)
    xadd_range(redis_server.client(), 1, 2000)
    assert await receive_ids(ws, 2000, timeout=20) == list(range(1, 2001))
    assert re.search(r"debug +\[redis\] queue full: reading paused at entry \d+-0", herald.log())
    await wait_until(lambda: not pending_ids(redis_server.client()), "no pending entries")


async def test_unix_socket_and_database(redis_server, start_herald):
    herald = start_herald(redis_config(redis_server, url=f"unix://{redis_server.socket_path}?db=3",
                                       stream="events:{app}"))
    herald.wait_for_log(rf"\[redis\] connected to unix://{re.escape(str(redis_server.socket_path))}"
                        r"\?db=3: stream events:\{app\}")
    ws = await connect(herald)
    await subscribe(ws)
    db3 = redis_server.client(db=3)
    xadd(db3, 1, stream="events:{app}")
    assert (await recv_json(ws))["data"]["id"] == 1
    assert redis_server.client().exists("events:{app}") == 0, "the stream is not in database 3"
    await wait_until(lambda: not pending_ids(db3, "events:{app}"), "no pending entries")

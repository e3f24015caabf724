"""Cluster mode: three herald nodes share one redis-server (the notification log). An event
given to any node reaches the clients of every node, in the same order and at the same
position; a client whose node dies resumes on another node with exactly what it missed;
Redis restarting loses nothing."""

import os
import signal
from urllib.parse import quote

from harness import (PROJECT, connect, http_get, make_token, milestone_event, open_ws,
                     recv_json, send_json, subscribe, ws_url)
from redis_harness import redis_server  # noqa: F401  (fixture)


def node(start_herald, server, **extra):
    return start_herald({"cluster": {"url": server.url(), **extra}})


def kill(herald):
    """SIGKILL a node, by its pid, as a crash would; its teardown then has nothing to check."""
    os.kill(herald.proc.pid, signal.SIGKILL)
    herald.proc.wait()
    herald.proc.stdin.close()
    herald.proc = None


async def subscriber(herald, user):
    ws = await connect(herald, user)
    await subscribe(ws)
    return ws


async def test_event_on_one_node_reaches_every_node(redis_server, start_herald):
    a, b, c = (node(start_herald, redis_server) for _ in range(3))
    on_b, on_c, on_a = [await subscriber(n, u) for n, u in ((b, 7), (c, 8), (a, 9))]
    for i in (1, 2, 3):
        a.send(milestone_event(i))
    c.send(milestone_event(4))  # any node's sources feed the one log
    got = {}
    for name, ws in (("a", on_a), ("b", on_b), ("c", on_c)):
        got[name] = [await recv_json(ws) for _ in range(4)]
    ids = [m["data"]["id"] for m in got["b"]]
    assert sorted(ids) == [1, 2, 3, 4]
    assert [i for i in ids if i != 4] == [1, 2, 3]  # one source's events keep their order
    # every node delivers the same notifications in the same order at the same positions
    assert got["a"] == got["b"] == got["c"]
    assert len({m["pos"] for m in got["a"]}) == 4


async def test_client_of_a_killed_node_resumes_on_another(redis_server, start_herald):
    a, b, c = (node(start_herald, redis_server) for _ in range(3))
    watcher = await subscriber(c, 8)  # proves what the log has delivered
    ws = await subscriber(b, 7)
    for i in range(1, 6):
        a.send(milestone_event(i))
    seen = [await recv_json(ws) for _ in range(5)]
    assert [await recv_json(watcher) for _ in range(5)] == seen
    kill(b)
    for i in range(6, 11):  # events keep flowing while the client is away
        a.send(milestone_event(i))
    assert [(await recv_json(watcher))["data"]["id"] for _ in range(5)] == list(range(6, 11))

    last = seen[-1]["pos"]
    back = await open_ws(ws_url(c.port, make_token(7)) + "&since=" + quote(last))
    await send_json(back, {"type": "subscribe_project", "project_id": PROJECT["id"],
                           "since": last})
    assert [(await recv_json(back))["data"]["id"] for _ in range(5)] == list(range(6, 11))
    a.send(milestone_event(11))  # then the live stream, nothing twice at the seam
    assert (await recv_json(back))["data"]["id"] == 11
    assert (await recv_json(watcher))["data"]["id"] == 11


async def test_redis_restart_loses_nothing(redis_server, start_herald):
    a, b = node(start_herald, redis_server), node(start_herald, redis_server)
    ws = await subscriber(b, 7)
    a.send(milestone_event(1))
    assert (await recv_json(ws))["data"]["id"] == 1
    redis_server.stop()
    # degraded, but the WebSockets stay up and /healthz answers
    for n in (a, b):
        status, body = http_get(n.port, "/healthz")
        assert status == 200
    a.send(milestone_event(2))  # the stdin source backs off until Redis is back
    redis_server.start()
    a.send(milestone_event(3))
    assert [(await recv_json(ws, timeout=20))["data"]["id"] for _ in range(2)] == [2, 3]


async def test_restarted_node_serves_resume_from_the_log(redis_server, start_herald):
    a = node(start_herald, redis_server)
    ws = await subscriber(a, 7)
    for i in (1, 2, 3):
        a.send(milestone_event(i))
    first = await recv_json(ws)
    assert [(await recv_json(ws))["data"]["id"] for _ in range(2)] == [2, 3]
    # a node started now warms its history from the log
    fresh = node(start_herald, redis_server)
    back = await open_ws(ws_url(fresh.port, make_token(7)))
    await send_json(back, {"type": "subscribe_project", "project_id": 2, "since": first["pos"]})
    assert [(await recv_json(back))["data"]["id"] for _ in range(2)] == [2, 3]

"""Cluster mode under faults, over real sockets with a real redis-server: thousands of numbered
events at a steady rate, several subscribers on every node, one fault at a chosen point. At
the end every subscriber has every event exactly once, or misses only events covered by a
resume_failed it received.

- a client resumes on a node that lags behind its position: nothing twice (issue 13, case 3);
- Redis restarted without persistence while a node lags: every node starts the same new
  epoch, nobody skips silently (case 4);
- FLUSHALL, or the log deleted, under running nodes: they all notice, and a node started
  afterwards agrees with them (case 5);
- Redis stalls longer than the webhook's ack_timeout_ms: the sources' resends (504) are safe,
  through whichever node (case 6).

A subscriber that sees the epoch of `pos` change does what a client must: it resumes from its
last position of the old epoch, and must be told `resume_failed` (that is what covers what it
missed)."""

import asyncio
import collections
import http.client
import json
import os
import re
import signal
import threading
import time

import pytest
import websockets

import harness
import webhook_harness as wh
from harness import PROJECT, make_token, milestone_event, open_ws, send_json, ws_url
from redis_harness import PausableProxy, RedisServer, redis_server  # noqa: F401  (fixture)

RATE = 400     # events per second
EVENTS = 2000  # per test
END_TIMEOUT = 40


@pytest.fixture
def volatile_redis(tmp_path_factory):
    """A redis-server without persistence: a restart loses everything."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), persistence=False).start()
    yield server
    server.stop()


@pytest.fixture
def proxies():
    made = []

    def make(port):
        made.append(PausableProxy(port))
        return made[-1]

    yield make
    for proxy in made:
        proxy.stop()


def node(start_herald, url, **extra):
    config = {"cluster": {"url": url}, "history": {"size": 100000}, "log": {"level": "info"}}
    return start_herald(harness.merge(config, extra))


def resets(herald):
    status, body = harness.http_get(herald.port, "/metrics")
    assert status == 200, body
    found = re.search(r"^herald_log_resets_total (\d+)$", body, re.M)
    assert found, "no herald_log_resets_total in /metrics"
    return int(found.group(1))


def epoch_of(pos):
    return pos.split(":")[0]


class Subscriber:
    """A client of project 2 that records every data.id it receives, in order, and the ranges
    of ids a resume_failed declared lost to it."""

    def __init__(self, herald, user, late=False):
        self.herald, self.user, self.late = herald, user, late
        self.got, self.last_pos = [], None
        self.covered = []       # (a, b): ids strictly between a and b were declared lost
        self.failed = []        # reasons of the resume_failed it received
        self.cover_from = None  # a resume failed after id cover_from: covered up to the next
        self.ws = self.task = None

    def __repr__(self):
        return f"Subscriber(user {self.user} on port {self.herald.port})"

    async def open(self, herald=None, since=None):
        self.herald = herald or self.herald
        # a resume_failed on this connection covers from the last id before it to the first
        # id it brings (which may come before the resume_failed)
        self.resumed_after, self.conn_first = (self.got[-1] if self.got else 0), None
        self.ws = await open_ws(ws_url(self.herald.port, make_token(self.user)))
        message = {"type": "subscribe_project", "project_id": PROJECT["id"]}
        if since:
            message["since"] = since
        await send_json(self.ws, message)
        self.task = asyncio.ensure_future(self._run(self.ws))
        return self

    async def move(self, herald):
        """Close, then resume on `herald` from the last position seen."""
        await self.ws.close()
        await self.task
        await self.open(herald, self.last_pos)

    async def _run(self, ws):
        try:
            async for raw in ws:
                await self._take(json.loads(raw))
        except websockets.exceptions.ConnectionClosed:
            pass

    async def _take(self, m):
        if m.get("type") == "resume_failed":
            self.failed.append(m["reason"])
            if self.conn_first is not None:
                self.covered.append((self.resumed_after, self.conn_first))
                # mid-stream (the node found the log lost entries): from the last id
                # received to the next one
                self.cover_from = self.got[-1]
            else:
                self.cover_from = self.resumed_after
            return
        if m.get("type") != "notification_received":
            return
        data_id, pos = m["data"]["id"], m["pos"]
        if self.conn_first is None:
            self.conn_first = data_id
        if self.cover_from is not None:
            self.covered.append((self.cover_from, data_id))
            self.cover_from = None
        if self.last_pos and epoch_of(pos) != epoch_of(self.last_pos):
            await self._probe(self.last_pos, data_id)
        self.got.append(data_id)
        self.last_pos = pos

    async def _probe(self, since, next_id):
        """The epoch changed under this client: resume (on a connection of its own) from its
        last position of the old epoch; the node must say that position is void."""
        ws = await open_ws(ws_url(self.herald.port, make_token(self.user)))
        await send_json(ws, {"type": "subscribe_project", "project_id": PROJECT["id"],
                             "since": since})
        m = await harness.recv_json(ws)
        await ws.close()
        self.failed.append(m.get("reason", f"served: {m}"))
        if m.get("type") == "resume_failed" and m["reason"] in ("reset", "expired"):
            self.covered.append((self.got[-1] if self.got else 0, next_id))

    def problems(self, last):
        """What is wrong with what it got: all of first..last once (first: 1, or for a client
        that joined late the first event it got), or missing only what was covered."""
        counts = collections.Counter(self.got)
        twice = sorted(i for i, n in counts.items() if n > 1)
        first = 1 if not self.late else min(counts, default=last)
        missed = sorted(set(range(first, last + 1)) - set(counts))
        bare = [i for i in missed if not any(a < i < b for a, b in self.covered)]
        if twice or bare:
            return (f"{self}: {len(twice)} twice {twice[:10]}, {len(missed)} missed of which "
                    f"{len(bare)} not covered by a resume_failed {bare[:10]}; covered "
                    f"{self.covered}, resume_failed {self.failed}")
        return None


class StdinPublisher(threading.Thread):
    """Events 1..count into one node's stdin at `rate` per second, in a thread (the pipe
    blocks while the node refuses events). faults[i]() runs just before event i."""

    def __init__(self, herald, count=EVENTS, rate=RATE, faults=None):
        super().__init__(daemon=True)
        self.herald, self.count, self.rate = herald, count, rate
        self.faults = faults or {}
        self.sent = 0

    def run(self):
        start = time.monotonic()
        for i in range(1, self.count + 1):
            if i in self.faults:
                self.faults[i]()
            self.herald.send(milestone_event(i))
            self.sent = i
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


async def reached(publisher, i):
    while publisher.sent < i:
        await asyncio.sleep(0.01)


async def finish(subscribers, last, publisher=None):
    """Wait until every subscriber has event `last` (or the time is up), then check them all."""
    if publisher is not None:
        while publisher.is_alive():
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + END_TIMEOUT
    while time.monotonic() < deadline and any(last not in s.got for s in subscribers):
        await asyncio.sleep(0.1)
    problems = [p for p in (s.problems(last) for s in subscribers) if p]
    assert not problems, "\n".join(problems)


def later(seconds, action):
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


async def test_resume_on_a_node_behind_the_position_sends_nothing_twice(
        redis_server, start_herald, proxies):
    proxy = proxies(redis_server.port)
    a = node(start_herald, redis_server.url())
    b = node(start_herald, proxy.url())  # b reads the log through a relay the test can stall
    subs = [await Subscriber(n, u).open() for n, u in ((a, 7), (a, 8), (b, 9), (b, 10))]
    movers = [await Subscriber(a, u).open() for u in (11, 12, 13)]
    await asyncio.sleep(0.3)
    # b stalls for 1.5 s (under its 3 s read timeout) while a keeps delivering
    publisher = StdinPublisher(a, faults={600: proxy.pause})
    publisher.start()
    await reached(publisher, 900)
    for m in movers:  # they leave a, which is ahead, for b, which is behind their position
        await m.move(b)
        await asyncio.sleep(0.1)
    await reached(publisher, 1200)
    proxy.resume()
    await finish(subs + movers, EVENTS, publisher)
    for m in movers:  # positions mean the same on b: served, not refused
        assert m.failed == [], f"{m}: resume_failed {m.failed}"


async def test_redis_restarted_without_persistence_while_a_node_lags(
        volatile_redis, start_herald, proxies):
    proxy = proxies(volatile_redis.port)
    a = node(start_herald, volatile_redis.url())
    b = node(start_herald, proxy.url())
    subs = [await Subscriber(n, u).open() for n, u in ((a, 7), (a, 8), (b, 9), (b, 10))]
    await asyncio.sleep(0.3)

    def restart():  # while b has read only part of what a wrote
        volatile_redis.stop(signal.SIGKILL)
        volatile_redis.start()
        later(0.5, proxy.resume)

    publisher = StdinPublisher(a, faults={600: proxy.pause, 1000: restart})
    publisher.start()
    await finish(subs, EVENTS, publisher)
    epochs = {epoch_of(s.last_pos) for s in subs}
    assert len(epochs) == 1, f"the nodes serve different epochs: {epochs}"
    for s in subs:  # every one of them lost events to the restart, and was told so
        assert "reset" in s.failed, f"{s}: resume_failed {s.failed}"
    for n in (a, b):
        n.wait_for_log(r"cluster: .*lost entries")
        n.wait_for_log(r"keeps no persistence")


@pytest.mark.parametrize("how", [("FLUSHALL",), ("DEL", "herald:log")])
async def test_the_log_wiped_under_running_nodes(redis_server, start_herald, how):
    a, b = node(start_herald, redis_server.url()), node(start_herald, redis_server.url())
    subs = [await Subscriber(n, u).open() for n, u in ((a, 7), (a, 8), (b, 9), (b, 10))]
    await asyncio.sleep(0.3)
    publisher = StdinPublisher(a, faults={800: lambda: redis_server.cli(*how)})
    publisher.start()
    await reached(publisher, 1200)
    c = node(start_herald, redis_server.url())  # started after the wipe
    late = [await Subscriber(c, u, late=True).open() for u in (14, 15)]
    movers = [await Subscriber(a, u, late=True).open() for u in (11, 12)]
    await reached(publisher, 1500)
    await asyncio.sleep(0.2)
    for m in movers:  # a's positions after the wipe mean the same on c
        await m.move(c)
    await finish(subs + movers + late, EVENTS, publisher)
    for m in movers:
        assert m.failed == [], f"{m}: resume_failed {m.failed}"
    assert len({epoch_of(s.last_pos) for s in subs + movers + late}) == 1
    for s in subs:
        assert "reset" in s.failed, f"{s}: the log was wiped, yet no resume_failed: {s.failed}"
    for n in (a, b):  # every node noticed, logged and counted it; the late one had no reset
        n.wait_for_log(r"cluster: .*lost entries")
        assert resets(n) == 1
    assert resets(c) == 0


class WebhookPublisher(threading.Thread):
    """Events 1..count, each with an idempotency id, posted one by one at `rate` per second.
    An answer other than 202 (504 after ack_timeout_ms, 503) or a lost connection is answered
    the only safe way: the same event again, through the next node."""

    def __init__(self, ports, count=EVENTS, rate=RATE, faults=None):
        super().__init__(daemon=True)
        self.ports, self.count, self.rate = ports, count, rate
        self.faults = faults or {}
        self.sent, self.resends, self.answers = 0, 0, collections.Counter()

    def run(self):
        start, at = time.monotonic(), 0
        conns = [None] * len(self.ports)
        for i in range(1, self.count + 1):
            if i in self.faults:
                self.faults[i]()
            body = milestone_event(i, id=f"event-{i}")
            while True:
                if conns[at] is None:
                    conns[at] = http.client.HTTPConnection("127.0.0.1", self.ports[at],
                                                           timeout=wh.HTTP_TIMEOUT)
                try:
                    status = wh.post(self.ports[at], body, conn=conns[at]).status
                except (OSError, http.client.HTTPException):
                    conns[at].close()
                    conns[at], status = None, "lost"
                self.answers[status] += 1
                if status == 202:
                    break
                self.resends += 1
                at = (at + 1) % len(self.ports)
                time.sleep(0.05)
            self.sent = i
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for conn in conns:
            if conn is not None:
                conn.close()


async def test_resends_after_504_are_delivered_once(redis_server, start_herald, tmp_path):
    nodes = []
    for _ in range(2):
        config, env, port = wh.webhook_config(
            ack_timeout_ms=300,
            core={"cluster": {"url": redis_server.url()}, "history": {"size": 100000},
                  "log": {"level": "info"}})
        nodes.append((start_herald(config, env), port))
    subs = [await Subscriber(n, u).open() for (n, _), u in zip(nodes * 2, (7, 8, 9, 10))]
    await asyncio.sleep(0.3)

    def stall():  # Redis answers nothing for 2 s: every request meanwhile gets its 504
        os.kill(redis_server.proc.pid, signal.SIGSTOP)
        later(2.0, lambda: os.kill(redis_server.proc.pid, signal.SIGCONT))

    publisher = WebhookPublisher([p for _, p in nodes], count=1500, rate=300,
                                 faults={500: stall})
    publisher.start()
    await finish(subs, 1500, publisher)
    assert publisher.answers[504] >= 1, publisher.answers
    for s in subs:
        assert s.failed == [], f"{s}: resume_failed {s.failed}"


def gaps(herald):
    status, body = harness.http_get(herald.port, "/metrics")
    found = re.search(r"^herald_log_gaps_total (\d+)$", body, re.M)
    assert status == 200 and found, body
    return int(found.group(1))


async def test_a_node_behind_the_trim_says_expired(redis_server, start_herald, proxies):
    """A node that fell so far behind that the log was trimmed (cluster.log_max) past what it
    had read cannot serve positions from the gap: it says `expired` (and counts the gap), while
    the node that read everything serves them."""
    proxy = proxies(redis_server.port)
    small = {"cluster": {"log_max": 100}}
    a = node(start_herald, redis_server.url(), **small)
    b = node(start_herald, proxy.url(), **small)
    stays = [await Subscriber(a, u).open() for u in (7, 8)]
    movers = [await Subscriber(a, u).open() for u in (11, 12)]
    on_b = [await Subscriber(b, 21).open()]  # connected to b all along
    await asyncio.sleep(0.3)
    publisher = StdinPublisher(a, count=1500, faults={300: proxy.pause})
    publisher.start()
    await reached(publisher, 400)
    for m in movers:  # last position about 400: b stopped reading near 300
        await m.ws.close()
        await m.task
    await reached(publisher, 1000)  # the log keeps about the last 100 to 200
    proxy.resume()
    await reached(publisher, 1100)  # b has read again: found the gap
    for m in movers:
        await m.open(b, since=m.last_pos)
    await finish(stays + movers + on_b, 1500, publisher)
    for m in movers:
        assert m.failed == ["expired"], f"{m}: resume_failed {m.failed}"
    # b's own live client missed the trimmed entries too, and was told so at once.
    assert "expired" in on_b[0].failed, f"{on_b[0]}: resume_failed {on_b[0].failed}"
    assert gaps(b) == 1 and gaps(a) == 0
    b.wait_for_log(r"were trimmed from the log before this node read them")

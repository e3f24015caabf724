"""Redis for the redis source's integration tests: a real redis-server on a free loopback port,
started and stopped by pid, with an append-only file so that a restart keeps the streams; a
config for herald's redis plugin; stream helpers; the `redis_server` fixture.

Built on harness.py (ports, configs, events); needs Debian's python3-redis and redis-server.
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import redis

import harness

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
STREAM = "herald:events"
GROUP = "herald"


class RedisServer:
    """One redis-server child; stop() and start() again keep the port and the data dir."""

    def __init__(self, workdir, persistence=True):
        self.dir = Path(workdir)
        self.persistence = persistence  # False: no AOF, no snapshot (a restart loses all)
        self.port = harness.free_port()
        self.log_path = self.dir / "redis.log"
        self.socket_path = self.dir / "redis.sock"
        self.proc = None

    def __repr__(self):
        return f"RedisServer(port={self.port}, dir={self.dir})"

    def start(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "yes" if self.persistence else "no", "--dir", str(self.dir),
                "--daemonize", "no",
                "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        client = self.client(socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + harness.START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode}:\n"
                                     + self.log_path.read_text("utf-8", "replace"))
            try:
                if client.ping():  # fails with LOADING while the append-only file is read
                    return self
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self} did not answer PING within "
                                     f"{harness.START_TIMEOUT} s")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        """Stop the server, by its pid; SIGTERM lets it write its append-only file first."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(harness.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def client(self, **options):
        options.setdefault("socket_timeout", 5)
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, **options)

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cli(self, *args):
        """Run redis-cli against the server, as an operator or a shell script would."""
        result = subprocess.run([REDIS_CLI, "-p", str(self.port), *args], capture_output=True,
                                text=True, timeout=10, check=True)
        return result.stdout.strip()


@pytest.fixture
def redis_server(tmp_path_factory):
    """A redis-server of this test alone (list it before start_herald, so that it outlives
    the test's herald daemons: they are stopped first, with Redis still there)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def redis_config(server, **options):
    """A herald config whose one source is the redis plugin, connected to `server`."""
    return {"plugins": [{"name": "redis", "options": {"url": server.url(), **options}}]}


def event_json(data_id, **extra):
    return json.dumps(harness.milestone_event(data_id, **extra), separators=(",", ":"))


def entry_id(data_id):
    """The stream id the tests give the event of data.id N: N-0. Explicit ids make a test's
    own retried XADD idempotent: Redis refuses an id that is not above the last one."""
    return f"{data_id}-0"


def xadd(client, data_id, stream=STREAM, **fields):
    """Add the event of data.id `data_id` (or `fields`, when given) with id entry_id()."""
    return client.xadd(stream, fields or {"event": event_json(data_id)}, id=entry_id(data_id))


def xadd_range(client, first, last, stream=STREAM):
    pipe = client.pipeline(transaction=False)
    for i in range(first, last + 1):
        pipe.xadd(stream, {"event": event_json(i)}, id=entry_id(i))
    pipe.execute()


def xadd_retrying(client, data_id, on_failure, stream=STREAM):
    """XADD until Redis takes it, as a back end with retries does, calling on_failure() after
    each failed try. A try that failed after Redis had added the entry makes the next one meet
    "equal or smaller" (the id exists): the entry is in, once."""
    while True:
        try:
            xadd(client, data_id, stream)
            return
        except redis.ResponseError as e:
            if "equal or smaller" in str(e):
                return
            raise
        except (redis.ConnectionError, redis.TimeoutError):
            on_failure()
            time.sleep(0.05)


def pending_ids(client, stream=STREAM, group=GROUP):
    """The ids of the group's pending entries (delivered to a consumer, not acknowledged)."""
    return [p["message_id"] for p in client.xpending_range(stream, group, "-", "+", 100000)]


def data_id_of(stream_id):
    return int(stream_id.split("-")[0])


async def wait_until(predicate, what, timeout=harness.RECV_TIMEOUT):
    """Poll `predicate` (a plain function) until it is true, without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def receive_ids(ws, count, into=None, timeout=harness.RECV_TIMEOUT):
    """Receive `count` notifications and return their data.id, appended to `into` as they come
    (so that a caller that stops waiting still sees what arrived)."""
    into = [] if into is None else into
    for _ in range(count):
        into.append((await harness.recv_json(ws, timeout))["data"]["id"])
    return into


class PausableProxy:
    """A TCP relay on a free loopback port in front of `port`, for one node's connections to
    Redis: pause() holds every byte both ways (the node then waits for replies, as when its
    Redis is slow or far), resume() lets them through again. A side that closes closes the
    other, once the relay is not paused. Threads of this process; stop() ends them."""

    def __init__(self, port):
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.running = threading.Event()
        self.running.set()
        self.open = True
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def pause(self):
        self.running.clear()

    def resume(self):
        self.running.set()

    def _accept(self):
        while self.open:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            self.conns += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src, dst):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            self.running.wait()
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.open = False
        self.running.set()
        self.listener.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass

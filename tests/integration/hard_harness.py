"""Helpers of the hardening tests (test_3*.py), on top of harness.py and conftest.py.

- Bystanders: clients in a room of their own that must receive every notification sent to
  them while a test abuses the hub next to them; their check also asks /healthz for 200.
- RawWS: a WebSocket client written by hand on a non-blocking socket, for what a well-behaved
  library will not do: never answer pings, never read, read the raw close frame.
- open_client / expect_refused: harness.open_ws() with extra connect() arguments (Origin,
  TLS context), closed after the test like harness's own clients.
- TLSHerald: a daemon serving wss:// only, whose readiness is polled over HTTPS.
- scripts_dir: a copy of the shipped scripts with some files added or replaced.
"""

import asyncio
import base64
import hashlib
import http.client
import itertools
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import websockets

import harness
from harness import RECV_TIMEOUT, SCRIPTS_DIR, WS_PATH, milestone_event, recv_json

BYSTANDER_PROJECT = {"id": 4242, "title": "Bystanders"}  # a room no test abuses
_bystander_ids = itertools.count(500001)


# ----------------------------------------------------------------------------- waiting


async def wait_until(predicate, timeout=RECV_TIMEOUT, what="condition", step=0.05):
    """Poll `predicate()` (a plain function) until it is true; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true within {timeout} s")
        await asyncio.sleep(step)


def log_count(herald, text):
    """How many times `text` (plain text) occurs in the daemon's log."""
    return herald.log().count(text)


# ----------------------------------------------------------------------------- health


def healthz(herald):
    """(status, parsed body) of GET /healthz, over HTTPS for a TLSHerald."""
    if isinstance(herald, TLSHerald):
        status, body = herald.https_get("/healthz")
    else:
        status, body = harness.http_get(herald.port, "/healthz")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def assert_healthy(herald):
    assert herald.running(), f"herald exited with {herald.proc.returncode}"
    status, body = healthz(herald)
    assert status == 200, f"/healthz answered {status}: {body}"
    return body


def open_connections(herald):
    """The "connections" figure of /healthz: the hub's own count of open WebSockets."""
    return healthz(herald)[1]["connections"]


# ----------------------------------------------------------------------------- clients


async def open_client(url, **kwargs):
    """harness.open_ws() with extra arguments of websockets.connect() (origin, ssl, ...);
    the client is closed after the test like every client harness opened."""
    options = dict(open_timeout=RECV_TIMEOUT, ping_interval=None, close_timeout=5,
                   max_size=None)
    options.update(kwargs)
    ws = await websockets.connect(url, **options)
    harness._open_clients.append(ws)
    return ws


async def expect_refused(url, status, **kwargs):
    """The handshake must be answered with HTTP `status`; returns the exception (headers)."""
    try:
        ws = await open_client(url, **kwargs)
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == status, f"expected HTTP {status}, got {e.status_code}"
        return e
    await ws.close()
    raise AssertionError(f"handshake accepted (101), expected HTTP {status}")


async def expect_close(ws, code, timeout=RECV_TIMEOUT):
    """Read `ws` until the server closes it; the close frame must carry `code`. Returns the
    messages received before the close."""
    received = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not closed within {timeout} s (got {received[-3:]})")
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                continue
            received.append(json.loads(raw))
    except websockets.exceptions.ConnectionClosed as e:
        assert e.rcvd is not None, "connection dropped without a close frame"
        assert e.rcvd.code == code, f"expected close code {code}, got {e.rcvd.code} " \
            f"({e.rcvd.reason!r})"
    return received


class Bystanders:
    """Clients subscribed to BYSTANDER_PROJECT that must lose nothing while a test abuses the
    hub: send() notifications to them at any time, check() that each received every one of
    them, in order, and that /healthz still answers 200."""

    def __init__(self, herald, clients, project):
        self.herald = herald
        self.clients = clients
        self.project = project
        self.expected = []

    @classmethod
    async def join(cls, herald, users=(101, 102), project=BYSTANDER_PROJECT, connect=None):
        """`connect(user)` opens a client (default: harness.connect to `herald`)."""
        connect = connect or (lambda user: harness.connect(herald, user))
        clients = []
        for user in users:
            ws = await connect(user)
            await harness.subscribe(ws, project["id"])
            clients.append(ws)
        return cls(herald, clients, project)

    def send(self, count=3):
        for _ in range(count):
            data_id = next(_bystander_ids)
            self.herald.send(milestone_event(data_id, title=f"bystander {data_id}",
                                             project=self.project))
            self.expected.append(data_id)

    async def check(self, count=3):
        """Send `count` more, then every client must have received all of them in order."""
        self.send(count)
        for i, ws in enumerate(self.clients):
            for data_id in self.expected:
                msg = await recv_json(ws)
                assert msg.get("type") == "notification_received" and \
                    msg.get("project_id") == self.project["id"] and \
                    msg.get("data", {}).get("id") == data_id, \
                    f"bystander {i} expected notification {data_id}, got {msg}"
        self.expected = []
        assert_healthy(self.herald)


# ----------------------------------------------------------------------------- raw client


class RawWS:
    """A WebSocket client by hand, on a non-blocking socket driven by the running event loop.
    It reads only when asked to, and never answers a ping."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.pings = 0  # pings received (never answered)
        self.texts = 0  # text frames wait_closed() read on its way

    @classmethod
    async def connect(cls, port, token, rcvbuf=None, path=WS_PATH):
        """Open the TCP connection (with SO_RCVBUF set first when given) and do the upgrade."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        raw = cls(sock)
        harness._open_clients.append(raw)  # closed after the test
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), RECV_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path}?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await loop.sock_sendall(sock, request.encode())
        deadline = time.monotonic() + RECV_TIMEOUT
        while b"\r\n\r\n" not in raw.buf:
            await raw._fill(deadline)
        head, raw.buf = raw.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].split()[1] == "101", f"upgrade refused: {lines[0]}"
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert any(line.lower() == f"sec-websocket-accept: {accept}".lower()
                   for line in lines[1:]), f"bad Sec-WebSocket-Accept in {lines}"
        return raw

    async def _fill(self, deadline):
        """Read more bytes into buf; raises EOFError when the peer closed."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 1 << 16),
                                      left)
        if not data:
            raise EOFError
        self.buf += data

    async def _need(self, n, deadline):
        while len(self.buf) < n:
            await self._fill(deadline)

    @staticmethod
    def frame(opcode, payload):
        """A whole masked client frame."""
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0xFE, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
        return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    async def send_frame(self, opcode, payload):
        await asyncio.get_running_loop().sock_sendall(self.sock, self.frame(opcode, payload))

    async def send_json(self, message):
        await self.send_frame(0x1, json.dumps(message).encode())

    async def send_json_at_once(self, messages):
        """Several text messages in one write, so that the server reads them together."""
        data = b"".join(self.frame(0x1, json.dumps(m).encode()) for m in messages)
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def recv_until_close(self, timeout=RECV_TIMEOUT):
        """The text messages received until the server's close frame, and its close code
        (None when the connection ended without a close frame)."""
        deadline = time.monotonic() + timeout
        messages = []
        try:
            while True:
                opcode, payload = await self.recv_frame(max(deadline - time.monotonic(), 0.001))
                if opcode == 0x8:
                    return messages, (struct.unpack("!H", payload[:2])[0]
                                      if len(payload) >= 2 else None)
                if opcode == 0x1:
                    messages.append(json.loads(payload))
        except (EOFError, ConnectionResetError):
            return messages, None
        except asyncio.TimeoutError:
            raise AssertionError(f"the server kept the connection open for {timeout} s") \
                from None

    async def recv_frame(self, timeout=RECV_TIMEOUT):
        """The next frame as (opcode, payload); counts pings. EOFError when the peer closed."""
        deadline = time.monotonic() + timeout
        await self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "the server masked a frame"
        n, at = b1 & 0x7F, 2
        if n == 126:
            await self._need(4, deadline)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            await self._need(10, deadline)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        await self._need(at + n, deadline)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        if b0 & 0x0F == 0x9:
            self.pings += 1
        return b0 & 0x0F, payload

    async def recv_json(self, timeout=RECV_TIMEOUT):
        """The next text message (pings are skipped, not answered)."""
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = await self.recv_frame(max(deadline - time.monotonic(), 0.001))
            if opcode == 0x1:
                return json.loads(payload)
            assert opcode == 0x9, f"unexpected frame {opcode:#x} {payload[:80]!r}"

    async def sync(self):
        """Like harness.sync(): a probe whose error answer proves earlier messages handled."""
        await self.send_json({"type": "sync_probe"})
        msg = await self.recv_json()
        assert msg.get("code") == "unknown_type", f"expected the probe's answer, got {msg}"

    async def wait_closed(self, timeout=RECV_TIMEOUT):
        """Read (and count) frames until the server ends the connection. Returns
        ("close", code) when a close frame came first, ("eof", None) for a TCP close without a
        readable close frame, ("reset", None) for a reset; the text frames read on the way are
        counted in self.texts."""
        deadline = time.monotonic() + timeout
        self.texts = 0
        try:
            while True:
                opcode, payload = await self.recv_frame(max(deadline - time.monotonic(), 0.001))
                if opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    return "close", code
                self.texts += opcode == 0x1
        except EOFError:
            return "eof", None
        except ConnectionResetError:
            return "reset", None
        except asyncio.TimeoutError:
            raise AssertionError(f"the server kept the connection open for {timeout} s") \
                from None

    async def close(self):
        self.sock.close()


# ----------------------------------------------------------------------------- memory


def rss_kib(pid):
    """Resident set size of process `pid` in KiB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def is_asan_build():
    """True when the herald binary is built with AddressSanitizer (its quarantine keeps freed
    memory resident, so RSS bounds need its options)."""
    return b"__asan_init" in harness.HERALD_BIN.read_bytes()


# ----------------------------------------------------------------------------- scripts


def scripts_dir(path, files=None):
    """A copy of the shipped scripts/ at `path`, with `files` ({name: text}) written over it;
    returns the path."""
    path = Path(path)
    shutil.copytree(SCRIPTS_DIR, path)
    for name, text in (files or {}).items():
        (path / name).write_text(text)
    return path


# ----------------------------------------------------------------------------- TLS


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 (openssl CLI); returns (cert, key) paths."""
    directory = Path(directory)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def client_context(cert):
    """An SSL context that trusts exactly `cert`."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    return ctx


class TLSHerald(harness.Herald):
    """A daemon with server.tls_cert/tls_key: ready when /healthz answers over HTTPS."""

    def __init__(self, workdir, config, cert):
        super().__init__(workdir, config)
        self.context = client_context(cert)

    def https_get(self, path, timeout=5):
        return harness.http_get(self.port, path, timeout, self.context)

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(harness.HERALD_BIN), "-c", str(self.config_path)], cwd=self.workdir,
                stdin=subprocess.PIPE, stdout=log, stderr=log, env=harness.herald_env(self.env))
        deadline = time.monotonic() + harness.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"herald exited with {self.proc.returncode} at start:\n"
                                     + self.log())
            try:
                if self.https_get("/healthz", timeout=1)[0] == 200:
                    return self
            except (OSError, ssl.SSLError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise AssertionError("/healthz did not answer 200 over HTTPS within "
                             f"{harness.START_TIMEOUT} s:\n" + self.log())


def start_tls_herald(start_herald, config, cert):
    """Start a TLSHerald through conftest's start_herald factory, so that it is stopped and
    checked (exit 0, no sanitizer report) and its log attached to failures like any other."""
    herald = TLSHerald(start_herald.tmp.mktemp("herald"), config, cert)
    start_herald.started.append(herald)
    return herald.start()

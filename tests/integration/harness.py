"""Shared helpers of Herald's integration tests: the daemon as a child process, its YAML config,
JWTs, events, and WebSocket clients.

Everything waits by polling with a deadline, never by sleeping a fixed time, so the same tests
run against a plain build and a (much slower) ASan+UBSan build.
"""

import asyncio
import base64
import copy
import hashlib
import hmac
import http.client
import inspect
import itertools
import json
import os
import re
import signal
import socket
import string
import subprocess
import time
import uuid
from pathlib import Path

import jwt
import websockets

SOURCE_DIR = Path(os.environ.get("HERALD_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("HERALD_BUILD_DIR", SOURCE_DIR / "build"))
HERALD_BIN = BUILD_DIR / "herald"
PLUGIN_DIR = BUILD_DIR / "plugins"
TEST_PLUGIN_DIR = BUILD_DIR / "tests" / "plugins"
SCRIPTS_DIR = SOURCE_DIR / "scripts"

SECRET = "herald-integration-test-secret-0123456789"
WS_PATH = "/ws/notifications/"

START_TIMEOUT = 20  # until /healthz answers
STOP_TIMEOUT = 20  # from SIGTERM to exit
RECV_TIMEOUT = 10  # for a message that must arrive
QUIET = 0.3  # a window in which nothing may arrive

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

PROJECT = {"id": 2, "title": "Mobile App Development"}
ACTOR = {"id": 5, "username": "jane_smith", "first_name": "Jane", "last_name": "Smith"}
TIMESTAMP = "2025-10-24T14:30:00Z"


# ----------------------------------------------------------------------------- processes


def free_port():
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def herald_env(extra=None):
    """The environment of a herald child: ours, the test JWT secret, then `extra` (None unsets)."""
    env = dict(os.environ, HERALD_JWT_SECRET=SECRET)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_herald(args, timeout=20, env=None):
    """Run `herald ARGS` to completion (a subcommand, or a start that must fail)."""
    return subprocess.run([str(HERALD_BIN), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=herald_env(env), timeout=timeout)


def sanitizer_reports(text):
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]


def http_get(port, path, timeout=5, context=None):
    """GET http://127.0.0.1:PORT/PATH (https:// with an ssl `context`); returns (status, body
    text)."""
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Herald:
    """One herald daemon on a free loopback port, fed events through its stdin."""

    def __init__(self, workdir, config=None, env=None):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.config_path = write_config(self.workdir / "herald.yaml", config, self.port)
        self.log_path = self.workdir / "herald.log"
        self.env = env
        self.proc = None
        self.line_no = 0  # lines written to stdin so far
        # Where /healthz answers: the main port, or server.metrics_listen's (None: "off").
        listen = (config or {}).get("server", {}).get("metrics_listen") \
            if isinstance(config, dict) else None
        self.health_port = None if listen == "off" else \
            int(listen.rsplit(":", 1)[1]) if listen else self.port

    def __repr__(self):
        return f"Herald(port={self.port}, dir={self.workdir})"

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(HERALD_BIN), "-c", str(self.config_path)], cwd=self.workdir,
                stdin=subprocess.PIPE, stdout=log, stderr=log, env=herald_env(self.env))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"herald exited with {self.proc.returncode} at start:\n"
                                     + self.log())
            try:
                if self.health_port is None:
                    if " serving ws" in self.log():
                        return self
                elif http_get(self.health_port, "/healthz", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"/healthz did not answer 200 within {START_TIMEOUT} s:\n"
                             + self.log())

    def log(self):
        try:
            return self.log_path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, timeout=RECV_TIMEOUT):
        """Poll the log until the regular expression `pattern` matches; returns the match."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log(), re.MULTILINE)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in herald's log within {timeout} s")
            time.sleep(0.05)

    def send(self, event):
        """Write one line to herald's stdin: an event dict as compact JSON, or a raw string."""
        line = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AssertionError("herald's stdin is closed (did it die?)") from None
        self.line_no += 1
        return self.line_no

    def send_barrier(self, user):
        """Send an event meant for `user` alone; returns its id for expect_nothing_then()."""
        data_id = next(_barrier_ids)
        self.send(milestone_event(data_id, title="barrier", project=BARRIER_PROJECT,
                                  users=[user]))
        return data_id

    def close_stdin(self):
        self.proc.stdin.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """Send SIGTERM to the daemon, by its pid, unless it has exited."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGTERM)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for the exit; on timeout kill it (our own child, by pid) and fail."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"herald did not exit within {timeout} s of SIGTERM") from None

    def stop(self):
        """Stop the daemon and return what is wrong with its exit (empty list: nothing)."""
        if self.proc is None:
            return []
        self.terminate()
        try:
            code = self.wait()
        except AssertionError as e:
            return [str(e)]
        finally:
            if not self.proc.stdin.closed:
                try:
                    self.proc.stdin.close()
                except BrokenPipeError:
                    pass
        problems = [f"sanitizer: {line}" for line in sanitizer_reports(self.log())]
        if code != 0:
            problems.insert(0, f"herald exited with {code}, expected 0")
        return problems


# ----------------------------------------------------------------------------- config


def base_config(port):
    return {
        "server": {"listen": "127.0.0.1", "port": port},
        "auth": {"algorithms": ["HS256"], "secret": {"env": "HERALD_JWT_SECRET"}},
        "scripts": {"dir": str(SCRIPTS_DIR)},
        "plugin_dir": str(PLUGIN_DIR),
        "plugins": [{"name": "stdin"}],
        "log": {"level": "debug"},
    }


def merge(base, extra):
    """Merge mapping `extra` into `base` (in place): mappings merge, None deletes, else replace."""
    for key, value in extra.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def write_config(path, config=None, port=None):
    """Write herald's config to `path`.

    `config` is a dict merged into base_config(port), or the whole file as YAML text in which
    $port, $scripts_dir, $plugin_dir and $test_plugin_dir are substituted.
    """
    port = port or free_port()
    if isinstance(config, str):
        text = string.Template(config).substitute(
            port=port, scripts_dir=SCRIPTS_DIR, plugin_dir=PLUGIN_DIR,
            test_plugin_dir=TEST_PLUGIN_DIR)
    else:
        text = to_yaml(merge(base_config(port), config or {}))
    path = Path(path)
    path.write_text(text)
    return path


_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):  # only empty ones get here
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Block-style YAML for dicts, lists and scalars (enough for herald's config)."""
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines.append(to_yaml(item, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                first, *rest = to_yaml(item, indent + 1).split("\n")
                lines.append(f"{pad}- {first.lstrip()}")
                lines.extend(rest)
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return "\n".join(lines) + ("\n" if indent == 0 else "")


# ----------------------------------------------------------------------------- tokens


def claims(user_id=7, **overrides):
    """The claims of a Django SimpleJWT access token; an override of None removes the claim."""
    now = int(time.time())
    payload = {"token_type": "access", "exp": now + 300, "iat": now,
               "jti": uuid.uuid4().hex, "user_id": user_id}
    for key, value in overrides.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    return payload


def make_token(user_id=7, *, key=SECRET, algorithm="HS256", payload=None):
    return jwt.encode(payload if payload is not None else claims(user_id), key,
                      algorithm=algorithm)


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge_token(payload, alg, key=b""):
    """A token built by hand, for what PyJWT refuses to make: alg "none" (empty signature) or
    HS256 with an arbitrary byte string (such as an RSA public key PEM) as the secret."""
    header = _b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64url(json.dumps(payload).encode())
    signing_input = f"{header}.{body}".encode()
    if alg == "none":
        signature = ""
    elif alg == "HS256":
        signature = _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    else:
        raise ValueError(alg)
    return f"{header}.{body}.{signature}"


# ----------------------------------------------------------------------------- events

BARRIER_PROJECT = {"id": 999999, "title": "Barrier"}  # a project nobody subscribes to
_barrier_ids = itertools.count(900001)


def milestone_event(data_id, *, title="Sprint Planning", event_type="milestone_updated",
                    project=PROJECT, **extra):
    """A milestone event; extra keys (users, exclude_user, ...) are added, None removes one."""
    event = {"event_type": event_type, "project": project, "actor": ACTOR,
             "data": {"id": data_id, "title": title, "progress": 50}, "timestamp": TIMESTAMP}
    return merge(event, extra)


POSITION = re.compile(r"^[0-9a-f]+:[0-9]+-[0-9]+$")
ROOM = re.compile(r"^(user|project)_[1-9][0-9]*$")


def without_pos(message):
    """A notification without the two fields Herald adds to those of API.md: its stream
    position "pos" (checked to be "<epoch>:<ms>-<seq>") and the "room" it came through
    (checked to be user_<id> or project_<id>)."""
    assert POSITION.match(message.get("pos", "")), message
    assert ROOM.match(message.get("room", "")), message
    return {k: v for k, v in message.items() if k not in ("pos", "room")}


# ----------------------------------------------------------------------------- pytest


def run_async_test(pyfuncitem, timeout):
    """pytest_pyfunc_call for `async def` tests (no pytest-asyncio needed): each runs in a fresh
    event loop within `timeout` seconds, and the WebSocket clients it opened with open_ws() are
    closed when it ends. Returns None for other tests (pytest runs them itself)."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in inspect.signature(func).parameters}

    async def run():
        try:
            await asyncio.wait_for(func(**args), timeout)
        finally:
            await close_clients()

    asyncio.run(run())
    return True


# ----------------------------------------------------------------------------- clients

_open_clients = []


def ws_url(port, token=None, path=WS_PATH):
    """The WebSocket URL; token None: no query string at all."""
    url = f"ws://127.0.0.1:{port}{path}"
    return url if token is None else f"{url}?token={token}"


async def open_ws(url):
    """Open a WebSocket (closed again after the test by close_clients())."""
    ws = await websockets.connect(url, open_timeout=RECV_TIMEOUT, ping_interval=None,
                                  close_timeout=5, max_size=None)
    _open_clients.append(ws)
    return ws


async def connect(herald, user=7, token=None):
    """A client of `user` connected with a fresh valid token, or with `token` when given."""
    return await open_ws(ws_url(herald.port, token or make_token(user)))


async def close_clients():
    while _open_clients:
        ws = _open_clients.pop()
        try:
            await asyncio.wait_for(ws.close(), 10)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            pass


async def expect_rejected(url, status=403):
    """The handshake at `url` must be answered with HTTP `status` instead of 101."""
    try:
        ws = await open_ws(url)
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == status, f"expected HTTP {status}, got {e.status_code}"
        return
    await ws.close()
    raise AssertionError(f"handshake accepted (101), expected HTTP {status}")


async def recv_json(ws, timeout=RECV_TIMEOUT):
    """The next message, which must be a JSON text frame arriving within `timeout`."""
    try:
        raw = await asyncio.wait_for(ws.recv(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"no message within {timeout} s") from None
    assert isinstance(raw, str), f"expected a text frame, got binary {raw!r}"
    return json.loads(raw)


async def expect_silence(ws, seconds=QUIET):
    """Nothing may arrive on `ws` for `seconds` (only for "no reply" checks; prefer barriers)."""
    try:
        raw = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"expected no message, got {raw!r}")


async def expect_nothing_then(ws, barrier_id):
    """The next message must be the barrier `barrier_id` (see Herald.send_barrier): whatever was
    sent to `ws` before the barrier was not delivered, since events arrive in ingest order."""
    msg = await recv_json(ws)
    assert msg.get("data", {}).get("id") == barrier_id and msg.get("project_id") == \
        BARRIER_PROJECT["id"], f"expected nothing before barrier {barrier_id}, got {msg}"


async def sync(ws):
    """A round trip on `ws`: the server handles a connection's messages in order and answers an
    unknown type with an error, so when that answer is back every message sent before it has
    been handled, and none of them produced a reply of its own."""
    await send_json(ws, {"type": "sync_probe"})
    await expect_error(ws, "unknown_type")


async def send_json(ws, message):
    await ws.send(json.dumps(message))


async def subscribe(ws, project_id=PROJECT["id"]):
    await send_json(ws, {"type": "subscribe_project", "project_id": project_id})
    await sync(ws)


async def unsubscribe(ws, project_id=PROJECT["id"]):
    await send_json(ws, {"type": "unsubscribe_project", "project_id": project_id})
    await sync(ws)


async def expect_error(ws, code):
    """The next message must be {"type":"error","message":<non-empty>,"code":code}."""
    msg = await recv_json(ws)
    assert msg.get("type") == "error", f"expected an error message, got {msg}"
    assert msg.get("code") == code, f"expected code {code!r}, got {msg}"
    assert isinstance(msg.get("message"), str) and msg["message"], f"empty message: {msg}"
    return msg

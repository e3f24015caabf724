"""Helpers of the webhook plugin's integration tests: a herald with the webhook source on its own
free loopback port, and HTTP requests to it with http.client (no proxy, no retries).

The daemon itself, its config and the WebSocket clients come from harness.py.
"""

import hashlib
import hmac
import http.client
import json
import shutil
import socket

from harness import SCRIPTS_DIR, free_port

TOKEN = "webhook-test-token-7f3a9c"       # the bearer token of the tests
HMAC_SECRET = "webhook-test-hmac-key-51d2e8"  # the HMAC key of the tests
TOKEN_ENV = "HERALD_WEBHOOK_TOKEN"
HMAC_ENV = "HERALD_WEBHOOK_HMAC"
HTTP_TIMEOUT = 30  # seconds; generous for the ASan build

# A formatter that logs that it started and then never returns: it holds the core's event loop
# until the instruction budget stops it (the event is then dropped, HERALD_EFORMAT). While it
# runs the loop drains nothing, so whatever is submitted meanwhile stays in the ingest queue.
STALL_SCRIPT = """\
return function(event)
	print("stall: formatting started")
	while true do end
end
"""
STALL_LOG = r"stall: formatting started"


def webhook_config(tmp_path=None, *, auth="bearer", core=None, **options):
    """The config (merged into harness.base_config) of a herald whose only source is the webhook
    on a free port. `auth` is "bearer", "hmac", "both" or None; options are the plugin's.
    `core` is merged in as well; with a tmp_path, scripts.dir is a copy of scripts/ that also
    holds stall.lua. Returns (config, env, webhook port)."""
    port = free_port()
    opts = {"port": port}
    env = {}
    if auth in ("bearer", "both"):
        opts["bearer_token"] = {"env": TOKEN_ENV}
        env[TOKEN_ENV] = TOKEN
    if auth in ("hmac", "both"):
        opts["hmac_secret"] = {"env": HMAC_ENV}
        env[HMAC_ENV] = HMAC_SECRET
    opts.update(options)
    config = {"plugins": [{"name": "webhook", "options": opts}]}
    if tmp_path is not None:
        scripts = tmp_path / "scripts"
        shutil.copytree(SCRIPTS_DIR, scripts)
        (scripts / "stall.lua").write_text(STALL_SCRIPT)
        config["scripts"] = {"dir": str(scripts)}
    for key, value in (core or {}).items():
        config[key] = {**config.get(key, {}), **value}
    return config, env, port


def sign(body, secret=HMAC_SECRET):
    """The X-Herald-Signature value of `body` (bytes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encode(payload):
    """A request body: bytes as they are, str as UTF-8, anything else as compact JSON."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode()
    return json.dumps(payload, separators=(",", ":")).encode()


class Answer:
    """An HTTP answer: status, headers (names lower-cased), raw body and the body as JSON."""

    def __init__(self, resp):
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.raw = resp.read()
        try:
            self.json = json.loads(self.raw)
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"Answer({self.status}, {self.headers}, {self.raw!r})"


def request(port, method="POST", path="/events", body=None, *, token=TOKEN, signature=None,
            content_type="application/json", headers=None, conn=None):
    """One HTTP request to the webhook; returns an Answer.

    `body` goes through encode(); `token` (None: no Authorization header) is sent as a bearer
    token; `signature` True signs the body with HMAC_SECRET, a string is sent as it is.
    `conn`, an http.client.HTTPConnection, is reused (keep-alive) and left open."""
    data = None if body is None else encode(body)
    hdrs = {}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if signature is True:
        hdrs["X-Herald-Signature"] = sign(data or b"")
    elif signature is not None:
        hdrs["X-Herald-Signature"] = signature
    if content_type is not None and data is not None:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        return Answer(conn.getresponse())
    finally:
        if own:
            conn.close()


def post(port, body, **kwargs):
    return request(port, "POST", "/events", body, **kwargs)


def raw_exchange(port, data, timeout=HTTP_TIMEOUT):
    """Send raw bytes on a new connection and read until the server closes it or `timeout`
    passes. Returns (bytes received, whether the server closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_until_closed(s)


def read_until_closed(s):
    received = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return received, False
        if not chunk:
            return received, True
        received += chunk


def parse_raw(received):
    """(status, headers with lower-cased names, JSON body) of the first answer in `received`."""
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return status, headers, json.loads(rest[:length])


def raw_request(body, *, token=TOKEN, signature=None, path="/events",
                content_type="application/json"):
    """The bytes of one POST with a Content-Length, as request() would send them: `token` as a
    bearer token (None: none), `signature` True to sign the body, a string to send as it is."""
    data = encode(body)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\n"
    if token is not None:
        head += f"Authorization: Bearer {token}\r\n"
    if signature is True:
        head += f"X-Herald-Signature: {sign(data)}\r\n"
    elif signature is not None:
        head += f"X-Herald-Signature: {signature}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return (head + f"Content-Length: {len(data)}\r\n\r\n").encode() + data


def _split_answer(data):
    """(status, headers, JSON body or raw bytes, rest) of the first answer in data, or None when
    data does not hold a whole answer yet."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    if len(rest) < length:
        return None
    body = rest[:length]
    try:
        body = json.loads(body)
    except ValueError:
        pass
    return status, headers, body, rest[length:]


def parse_all(received):
    """Every whole answer in `received`, as (status, headers, body) tuples."""
    answers = []
    while received:
        one = _split_answer(received)
        if one is None:
            raise AssertionError(f"a truncated answer: {received!r}")
        answers.append(one[:3])
        received = one[3]
    return answers


def read_answer(s):
    """Read exactly one answer from socket s: (status, headers, body)."""
    data = b""
    while True:
        one = _split_answer(data)
        if one is not None:
            assert not one[3], f"bytes after the answer: {one[3]!r}"
            return one[:3]
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a whole answer: {data!r}")
        data += chunk

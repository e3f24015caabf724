"""Handshake: a valid JWT in ?token= upgrades (101); anything else is HTTP 403 before the upgrade.
Also the plain HTTP routes (/healthz, 404s), tokens kept out of the log, and RS256."""

import json
import socket
import subprocess
import time
import urllib.parse

import jwt
import pytest

from harness import (claims, connect, expect_nothing_then, expect_rejected, forge_token,
                     http_get, make_token, open_ws, subscribe, ws_url)


def _now():
    return int(time.time())


REJECTED_TOKENS = {
    "no_token": lambda: None,
    "empty": lambda: "",
    "not_a_jwt": lambda: "abc",
    "three_garbage_parts": lambda: "a.b.c",
    "bad_signature": lambda: make_token(7, key="some-other-secret-of-the-same-length!!"),
    "alg_none": lambda: forge_token(claims(7), "none"),
    "alg_not_configured_HS512": lambda: make_token(7, algorithm="HS512"),
    "expired": lambda: make_token(payload=claims(7, exp=_now() - 60, iat=_now() - 360)),
    "exp_missing": lambda: make_token(payload=claims(7, exp=None)),
    "not_yet_valid": lambda: make_token(payload=claims(7, nbf=_now() + 300)),
    "refresh_token": lambda: make_token(payload=claims(7, token_type="refresh")),
    "user_id_missing": lambda: make_token(payload=claims(user_id=None)),
    "user_id_string": lambda: make_token(payload=claims(user_id="7")),
    "user_id_zero": lambda: make_token(payload=claims(user_id=0)),
    "user_id_negative": lambda: make_token(payload=claims(user_id=-7)),
}


async def test_valid_token_upgrades_into_the_users_room(shared_herald):
    ws = await connect(shared_herald, user=7)
    shared_herald.send_barrier(user=8)  # another user's room
    await expect_nothing_then(ws, shared_herald.send_barrier(user=7))


@pytest.mark.parametrize("make", REJECTED_TOKENS.values(), ids=REJECTED_TOKENS.keys())
async def test_bad_token_is_403(shared_herald, make):
    await expect_rejected(ws_url(shared_herald.port, make()), 403)


@pytest.mark.parametrize("encode", [
    lambda t: urllib.parse.quote(t, safe=""),  # encodeURIComponent
    lambda t: "".join(f"%{b:02X}" for b in t.encode()),  # every byte escaped
], ids=["encodeURIComponent", "all_percent_escaped"])
async def test_url_encoded_token_is_accepted(shared_herald, encode):
    ws = await open_ws(ws_url(shared_herald.port, encode(make_token(7))))
    await expect_nothing_then(ws, shared_herald.send_barrier(user=7))


async def test_wrong_path_is_404(shared_herald):
    await expect_rejected(ws_url(shared_herald.port, make_token(7), path="/ws/other/"), 404)


def test_healthz(shared_herald):
    status, body = http_get(shared_herald.port, "/healthz")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_unknown_http_path_is_404(shared_herald):
    assert http_get(shared_herald.port, "/nope")[0] == 404


async def test_tokens_never_appear_in_the_log(herald):
    rejected = make_token(7, key="not-the-server-secret-not-the-server")
    accepted = make_token(7)
    await expect_rejected(ws_url(herald.port, rejected))
    ws = await connect(herald, token=accepted)
    await expect_nothing_then(ws, herald.send_barrier(user=7))
    await ws.close()
    herald.stop()  # the whole log, up to the last line written at exit (the fixture checks it)
    log = herald.log()
    assert log.strip(), "nothing logged at level debug"
    for token in (rejected, accepted):
        for part in token.split("."):
            assert part not in log, "a token (or a part of it) was logged"


# ----------------------------------------------------------------------------- RS256


@pytest.fixture(scope="module")
def rsa_keys(tmp_path_factory):
    """Two RSA key pairs made by openssl: (private PEM, public PEM path) of the server's key,
    and the private PEM of a stranger's."""
    tmp = tmp_path_factory.mktemp("rsa")

    def pair(name):
        private, public = tmp / f"{name}.pem", tmp / f"{name}.pub.pem"
        subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(private), "-pubout", "-out", str(public)],
                       check=True, capture_output=True)
        return private.read_bytes(), public

    server_private, server_public = pair("server")
    stranger_private, _ = pair("stranger")
    return server_private, server_public, stranger_private


@pytest.fixture(scope="module")
def rs256_herald(start_module_herald, rsa_keys):
    _, public, _ = rsa_keys
    return start_module_herald({"auth": {"algorithms": ["RS256"], "secret": None,
                                         "public_key": {"file": str(public)}}})


async def test_rs256_token_is_accepted(rs256_herald, rsa_keys):
    private, _, _ = rsa_keys
    ws = await connect(rs256_herald, token=jwt.encode(claims(7), private, algorithm="RS256"))
    await expect_nothing_then(ws, rs256_herald.send_barrier(user=7))


@pytest.mark.parametrize("which", ["exact_file", "stripped"])
async def test_rs256_public_key_as_hmac_secret_is_403(rs256_herald, rsa_keys, which):
    """Algorithm confusion: an HS256 token whose HMAC key is the server's public key PEM."""
    _, public, _ = rsa_keys
    pem = public.read_bytes()
    key = pem if which == "exact_file" else pem.strip()
    await expect_rejected(ws_url(rs256_herald.port, forge_token(claims(7), "HS256", key)))


async def test_rs256_server_refuses_hs256(rs256_herald):
    await expect_rejected(ws_url(rs256_herald.port, make_token(7)))


async def test_rs256_signed_by_another_key_is_403(rs256_herald, rsa_keys):
    _, _, stranger = rsa_keys
    token = jwt.encode(claims(7), stranger, algorithm="RS256")
    await expect_rejected(ws_url(rs256_herald.port, token))


def _upgrade_request(port, token):
    return (f"GET {ws_url(port, token).split(str(port), 1)[1]} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()


def _read_head(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head


def test_connections_whose_requests_come_later_are_all_upgraded(shared_herald):
    """Herald accepts every waiting connection at once and hands each to lws once its first
    bytes arrive, whatever their order: here 300 are open before any sends its request, and
    the requests come in the reverse order."""
    socks = [socket.create_connection(("127.0.0.1", shared_herald.port), timeout=10)
             for _ in range(300)]
    try:
        time.sleep(0.3)
        for i, s in reversed(list(enumerate(socks))):
            s.sendall(_upgrade_request(shared_herald.port, make_token(5000 + i)))
        statuses = [_read_head(s).split(b"\r\n", 1)[0] for s in socks]
        assert all(b" 101 " in line for line in statuses), set(statuses)
    finally:
        for s in socks:
            s.close()


def test_a_connection_that_sends_nothing_is_closed(shared_herald):
    """A client that connects and stays silent is dropped after 10 s, holding nothing."""
    s = socket.create_connection(("127.0.0.1", shared_herald.port), timeout=15)
    started = time.monotonic()
    try:
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        assert data == b""
        assert 8 < time.monotonic() - started < 14
    finally:
        s.close()
    # And the server still answers.
    status, _ = http_get(shared_herald.port, "/healthz")
    assert status == 200


async def test_silent_connections_are_bounded_by_max_connections(start_herald):
    """Sockets opened and never written to are at most server.max_connections: past it the
    oldest is closed, so they cannot take the descriptors real clients need."""
    herald = start_herald({"server": {"max_connections": 5}})
    silent = [socket.create_connection(("127.0.0.1", herald.port), timeout=5) for _ in range(20)]
    try:
        ws = await connect(herald, 7)  # a real client still gets in, at once
        await subscribe(ws)
        closed = 0
        for s in silent[:15]:  # the 15 oldest were closed to keep 5 waiting
            try:
                closed += s.recv(1) == b""
            except ConnectionResetError:
                closed += 1
        assert closed == 15
    finally:
        for s in silent:
            s.close()

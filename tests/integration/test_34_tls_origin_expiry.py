"""The Origin allow-list of the handshake, TLS (wss:// only), and closing a connection when its
token expires, with the refresh_token message that extends it.

Readings taken where the spec is loose:
  - Origin: "exactly one of the list" is a byte-for-byte comparison. Browsers send the
    serialised origin (lower-case scheme and host, no default port, no path), so an exact
    list entry matches them; anything else (other case, a trailing slash, an explicit port,
    "null") is refused. An empty Origin header is not tried: lws does not tell it from no header,
    and only a non-browser client, which may leave the header out anyway, can send one.
  - Expiry: a connection is closed no earlier than its token's `exp` (leeway 0) and within
    2.5 s after it. A refresh with a bad token is answered invalid_token and leaves the old
    expiry in force.
"""

import asyncio
import ssl
import time

import pytest
import websockets

from harness import (claims, connect, expect_error, make_token, milestone_event,
                     recv_json, send_json, subscribe, sync, ws_url)
from hard_harness import (Bystanders, assert_healthy, expect_close, expect_refused,
                          make_cert, open_client, start_tls_herald)

APP = "https://app.example.com"
DEV = "http://localhost:5173"


async def receives(herald, clients, data_id):
    herald.send(milestone_event(data_id))
    for ws in clients:
        msg = await recv_json(ws)
        assert msg["data"]["id"] == data_id, msg


# ----------------------------------------------------------------------------- Origin

REFUSED_ORIGINS = ["https://evil.example.com", "https://app.example.com.evil.com",
                   "http://app.example.com", "https://APP.example.com", "https://app.example.com/",
                   "https://app.example.com:443", "null"]


async def test_origin_not_in_the_allow_list_is_403(start_herald):
    herald = start_herald({"server": {"allowed_origins": [APP, DEV]}})
    bystanders = await Bystanders.join(herald)  # no Origin header: not a browser, allowed
    url = ws_url(herald.port, make_token(7))
    for origin in REFUSED_ORIGINS:
        try:
            await expect_refused(url, 403, origin=origin)
        except AssertionError as e:
            raise AssertionError(f"Origin {origin!r}: {e}") from None
    bystanders.send()

    allowed = [await open_client(url, origin=APP), await open_client(url, origin=DEV)]
    for ws in allowed:
        await subscribe(ws)
    await receives(herald, allowed, 1)
    await bystanders.check()


async def test_without_an_allow_list_any_origin_is_accepted(start_herald):
    herald = start_herald()
    ws = await open_client(ws_url(herald.port, make_token(7)), origin="https://evil.example.com")
    await subscribe(ws)
    await receives(herald, [ws], 1)
    assert_healthy(herald)


# ----------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(tmp_path_factory.mktemp("tls"))


async def test_tls_serves_wss_only(start_herald, cert):
    cert_path, key_path = cert
    herald = start_tls_herald(start_herald, {"server": {"tls_cert": str(cert_path),
                                                        "tls_key": str(key_path)}}, cert_path)
    wss = f"wss://127.0.0.1:{herald.port}/ws/notifications/?token="

    def open_wss(user):
        return open_client(wss + make_token(user), ssl=herald.context)

    bystanders = await Bystanders.join(herald, connect=open_wss)
    ws = await open_wss(7)
    await subscribe(ws)
    bystanders.send()

    # A plain ws:// client gets no WebSocket at all.
    with pytest.raises((websockets.exceptions.WebSocketException, OSError,
                        asyncio.TimeoutError)):
        await open_client(ws_url(herald.port, make_token(8)), open_timeout=5)
    # Nor a TLS client that does not trust the certificate.
    with pytest.raises((ssl.SSLError, OSError)):
        await open_client(wss + make_token(8), ssl=ssl.create_default_context(), open_timeout=5)
    # A bad token over TLS is still a clean 403.
    await expect_refused(wss + "not-a-token", 403, ssl=herald.context)

    await receives(herald, [ws], 1)
    await bystanders.check()  # /healthz over HTTPS


# ----------------------------------------------------------------------------- expiry


def short_token(user, exp):
    return make_token(payload=claims(user, exp=exp))


async def expect_closed_at_expiry(ws, exp):
    await expect_close(ws, 4001, timeout=exp + 6 - time.time())
    now = time.time()
    assert exp - 0.5 <= now <= exp + 2.5, \
        f"closed {now - exp:+.1f} s from the token's expiry"


async def test_close_on_expiry_with_refresh(start_herald):
    herald = start_herald({"auth": {"close_on_expiry": True}})
    bystanders = await Bystanders.join(herald)  # tokens valid for 5 minutes
    exp = int(time.time()) + 3
    clients = {}
    for name, user in (("refreshed", 7), ("silent", 7), ("other_user", 7), ("bad_refresh", 8)):
        ws = await connect(herald, user, short_token(user, exp))
        await subscribe(ws)
        clients[name] = ws
    bystanders.send()

    # A fresh token of the same user: no reply, and the connection outlives the old expiry.
    await send_json(clients["refreshed"], {"type": "refresh_token", "token": make_token(7)})
    await sync(clients["refreshed"])
    # Tokens that must not extend anything: another user's, a garbage one, an expired one, a
    # badly signed one. Each is answered invalid_token and the old expiry stays.
    await send_json(clients["other_user"], {"type": "refresh_token", "token": make_token(9)})
    await expect_error(clients["other_user"], "invalid_token")
    for bad in ("not-a-token", make_token(payload=claims(8, exp=int(time.time()) - 10)),
                make_token(8, key="another-secret-of-sufficient-length-0123")):
        await send_json(clients["bad_refresh"], {"type": "refresh_token", "token": bad})
        await expect_error(clients["bad_refresh"], "invalid_token")

    await receives(herald, clients.values(), 1)  # all there before the expiry
    for name in ("silent", "other_user", "bad_refresh"):
        await expect_closed_at_expiry(clients[name], exp)

    await receives(herald, [clients["refreshed"]], 2)
    await bystanders.check()


async def test_expired_token_does_not_close_by_default(start_herald):
    herald = start_herald()
    exp = int(time.time()) + 2
    ws = await connect(herald, 7, short_token(7, exp))
    await subscribe(ws)
    await asyncio.sleep(max(0.0, exp + 1.5 - time.time()))
    await receives(herald, [ws], 1)
    assert_healthy(herald)

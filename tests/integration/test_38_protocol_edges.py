"""Protocol edges (issue 16): UTF-8, one rule for ids, bulk subscriptions and the default rate,
errors that name their project, events that look like direct messages, required claims, and
the plain-HTTP answer that tells a refused token from a network failure."""

import asyncio
import json
import re
import struct

import harness
from harness import (PROJECT, claims, connect, expect_error, make_token, milestone_event,
                     recv_json, send_json, subscribe, sync, ws_url)
from hard_harness import RawWS, expect_refused


async def test_text_that_is_not_utf8_closes_with_1007(herald):
    raw = await RawWS.connect(herald.port, make_token(7))
    await raw.send_frame(0x1, b'{"type":"subscribe_project","project_id":\xff}')
    messages, code = await raw.recv_until_close()
    assert code == 1007, (messages, code)
    # A good client is unaffected.
    ws = await connect(herald, 8)
    await subscribe(ws)


async def test_ids_follow_one_rule_for_events_and_subscriptions(herald):
    ws = await connect(herald, 7)
    await send_json(ws, {"type": "subscribe_project", "project_id": 5.0})
    await sync(ws)
    herald.send(milestone_event(1, project={"id": 5.0, "title": "Five"}))
    msg = await recv_json(ws)
    assert msg["project_id"] == 5 and msg["room"] == "project_5", msg
    biggest = 2 ** 53 - 1
    await send_json(ws, {"type": "subscribe_project", "project_id": biggest})
    await sync(ws)
    herald.send(milestone_event(2, project={"id": biggest, "title": "Big"}))
    assert (await recv_json(ws))["project_id"] == biggest
    # One past it is refused by both.
    await send_json(ws, {"type": "subscribe_project", "project_id": 2 ** 53})
    await expect_error(ws, "invalid_project_id")
    line = herald.send(milestone_event(3, project={"id": 2 ** 53, "title": "Too big"}))
    herald.wait_for_log(rf"line {line}: project\.id: must be a whole number from 1 to 2\^53-1")


async def test_bulk_subscription_and_unsubscription(herald):
    ws = await connect(herald, 7)
    projects = list(range(100, 160))
    await send_json(ws, {"type": "subscribe_project", "project_ids": projects})
    await sync(ws)  # silent, as a single subscribe is
    for p in projects:
        herald.send(milestone_event(p, project={"id": p, "title": f"P{p}"}))
    got = [(await recv_json(ws))["project_id"] for _ in projects]
    assert got == projects
    await send_json(ws, {"type": "unsubscribe_project", "project_ids": projects[:59]})
    await sync(ws)
    for p in projects:
        herald.send(milestone_event(p, project={"id": p, "title": f"P{p}"}))
    assert (await recv_json(ws))["project_id"] == 159
    await send_json(ws, {"type": "subscribe_project", "project_ids": [1, 0]})
    await expect_error(ws, "invalid_project_id")


async def test_default_rate_admits_max_subscriptions_one_by_one(herald):
    ws = await connect(herald, 7)
    # A dashboard subscribing to 128 (the default max_subscriptions) projects at once.
    for p in range(1, 129):
        await send_json(ws, {"type": "subscribe_project", "project_id": p})
    await sync(ws)  # no rate_limited answer came before the probe's
    herald.send(milestone_event(1, project={"id": 128, "title": "Last"}))
    assert (await recv_json(ws))["project_id"] == 128


async def test_errors_about_a_project_name_it(start_herald):
    herald = start_herald({"subscriptions": {"policy": "claim"},
                           "server": {"max_subscriptions": 2}})
    ws = await connect(herald, 7, token=make_token(payload=claims(7, projects=[1, 2, 3])))
    await send_json(ws, {"type": "subscribe_project", "project_ids": [1, 9, 2, 3]})
    refused = await expect_error(ws, "forbidden")
    assert refused["project_id"] == 9, refused
    full = await expect_error(ws, "too_many_subscriptions")
    assert full["project_id"] == 3, full
    await sync(ws)


async def test_an_event_with_a_top_level_user_id_is_refused(herald):
    ws = await connect(herald, 7)
    await subscribe(ws)
    line = herald.send(milestone_event(1, user_id=7))
    herald.wait_for_log(rf'line {line}: user_id: not an event field; to notify users, list '
                        r'them in "users": \[ids\]')
    herald.send(milestone_event(2))
    assert (await recv_json(ws))["data"]["id"] == 2  # never 1: not to the whole room


async def test_required_claims(start_herald):
    herald = start_herald({"auth": {"required_claims": ["jti"]}})
    without = claims(7)
    without.pop("jti", None)
    await expect_refused(ws_url(herald.port, make_token(payload=without)), 403)
    ws = await connect(herald, 7, token=make_token(payload=claims(7, jti="abc")))
    await subscribe(ws)


def test_plain_get_of_the_websocket_path_tells_a_bad_token_apart(herald):
    status, body = harness.http_get(herald.port, f"{harness.WS_PATH}?token=garbage")
    assert status == 403, (status, body)
    status, body = harness.http_get(herald.port, harness.WS_PATH)
    assert status == 403, (status, body)
    status, body = harness.http_get(herald.port, f"{harness.WS_PATH}?token={make_token(7)}")
    assert status == 426, (status, body)
    # Any origin may read the answer (the browser client asks from the app's origin).
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", herald.port, timeout=5)
    conn.request("GET", f"{harness.WS_PATH}?token=garbage", headers={"Origin": "https://app"})
    answer = conn.getresponse()
    assert answer.status == 403 and answer.getheader("Access-Control-Allow-Origin") == "*"
    conn.close()


async def test_refused_handshakes_name_the_client_through_trusted_proxies_only(start_herald):
    herald = start_herald({"server": {"trusted_proxies": ["127.0.0.1"]}})
    import http.client
    for forwarded, logged in (("203.0.113.9", "203.0.113.9"),
                              ("198.51.100.1, 203.0.113.7, 127.0.0.1", "203.0.113.7")):
        conn = http.client.HTTPConnection("127.0.0.1", herald.port, timeout=5)
        conn.request("GET", f"{harness.WS_PATH}?token=bad",
                     headers={"Upgrade": "websocket", "Connection": "Upgrade",
                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                              "Sec-WebSocket-Version": "13", "X-Forwarded-For": forwarded})
        assert conn.getresponse().status == 403
        conn.close()
        herald.wait_for_log(rf"handshake from {re.escape(logged)} refused \(403\)")
    # Not behind a trusted proxy, the header is not believed.
    other = start_herald()
    conn = http.client.HTTPConnection("127.0.0.1", other.port, timeout=5)
    conn.request("GET", f"{harness.WS_PATH}?token=bad",
                 headers={"Upgrade": "websocket", "Connection": "Upgrade",
                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                          "Sec-WebSocket-Version": "13", "X-Forwarded-For": "203.0.113.9"})
    assert conn.getresponse().status == 403
    other.wait_for_log(r"handshake from 127\.0\.0\.1 refused \(403\)")


async def test_metrics_and_healthz_on_their_own_listener_or_off(start_herald):
    port = harness.free_port()
    herald = start_herald({"server": {"metrics_listen": f"127.0.0.1:{port}"}})
    assert harness.http_get(port, "/healthz")[0] == 200
    assert harness.http_get(port, "/metrics")[0] == 200
    assert harness.http_get(port, harness.WS_PATH)[0] == 404
    assert harness.http_get(herald.port, "/metrics")[0] == 404
    ws = await connect(herald, 7)  # the main port serves WebSockets as before
    await subscribe(ws)
    off = start_herald({"server": {"metrics_listen": "off"}})
    assert harness.http_get(off.port, "/metrics")[0] == 404

"""The webhook source: events POSTed over HTTP reach WebSocket clients, and every answer of the
plugin (202, 400, 401, 404, 405, 411, 413, 415, 503, 504, /healthz) carries the documented
status, headers and JSON body. A 202 comes only once the core has taken every event.

The 503 (queue full) and 504 (no acknowledgement) cases hold the core's event loop with a
formatter that never returns (webhook_harness.STALL_SCRIPT) until its instruction budget stops
it; the tests wait for the log lines that show where the core and the plugin are, never for a
fixed time, so the sequences are deterministic.
"""

import asyncio
import concurrent.futures
import http.client
import socket
import time

import pytest

from harness import (PROJECT, connect, milestone_event, recv_json, run_herald, subscribe,
                     write_config)
from webhook_harness import (STALL_LOG, TOKEN, encode, parse_raw, post, raw_exchange,
                             read_until_closed, request, sign, webhook_config)


def start(start_herald, tmp_path=None, **kwargs):
    """A herald with the webhook source; returns (herald, webhook port)."""
    config, env, port = webhook_config(tmp_path, **kwargs)
    return start_herald(config, env), port


async def subscribed(herald, user=7):
    ws = await connect(herald, user)
    await subscribe(ws)
    return ws


async def ids(ws, n):
    """The data.id of the next n notifications on ws."""
    return [(await recv_json(ws))["data"]["id"] for _ in range(n)]


async def in_thread(func, *args, **kwargs):
    """Run a blocking HTTP call without blocking the WebSocket clients' event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: func(*args, **kwargs))


def assert_json_answer(answer, status):
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    assert answer.json is not None, f"the body is not JSON: {answer}"


def assert_error(answer, status, *words):
    assert_json_answer(answer, status)
    assert isinstance(answer.json.get("error"), str), answer
    for word in words:
        assert word in answer.json["error"], f"{word!r} not in {answer.json}"


# ------------------------------------------------------------------------------------------ 202


async def test_one_event_is_accepted_and_delivered(start_herald):
    herald, port = start(start_herald)
    ws = await subscribed(herald)
    event = milestone_event(42, title="Sprint Planning")

    answer = await in_thread(post, port, event)

    assert_json_answer(answer, 202)
    assert answer.json == {"accepted": 1}
    got = await recv_json(ws)
    assert got["type"] == "notification_received"
    assert got["message"] == "Milestone 'Sprint Planning' has been updated"
    assert (got["project_id"], got["data"]["id"]) == (PROJECT["id"], 42)


async def test_an_array_of_500_events_is_delivered_in_order(start_herald):
    herald, port = start(start_herald)
    ws = await subscribed(herald)

    answer = await in_thread(post, port, [milestone_event(i) for i in range(500)])

    assert_json_answer(answer, 202)
    assert answer.json == {"accepted": 500}
    assert await ids(ws, 500) == list(range(500))


async def test_an_empty_array_is_accepted_at_once(start_herald):
    herald, port = start(start_herald)
    ws = await subscribed(herald)

    answer = await in_thread(post, port, [])

    assert_json_answer(answer, 202)
    assert answer.json == {"accepted": 0}
    assert (await in_thread(post, port, milestone_event(1))).status == 202
    assert await ids(ws, 1) == [1]


async def test_a_dropped_event_is_counted_in_the_202(start_herald, tmp_path):
    """An event the formatter fails on is taken by the core, then dropped: still a 202, with
    "dropped" counting it."""
    herald, port = start(start_herald, tmp_path, core={"scripts": {"instructions": 100000}})
    ws = await subscribed(herald)
    events = [milestone_event(1), milestone_event(2, event_type="stall"), milestone_event(3)]

    answer = await in_thread(post, port, events)

    assert_json_answer(answer, 202)
    assert answer.json == {"accepted": 3, "dropped": 1}
    assert await ids(ws, 2) == [1, 3]


# ------------------------------------------------------------------------------------------ 400


async def test_an_array_with_a_bad_third_event_is_refused_whole(start_herald):
    herald, port = start(start_herald)
    ws = await subscribed(herald)
    events = [milestone_event(1), milestone_event(2),
              milestone_event(3, project={"id": "x", "title": "Bad"}), milestone_event(4)]

    answer = await in_thread(post, port, events)

    assert_json_answer(answer, 400)
    assert answer.json == {"error": "[2].project.id: must be a whole number from 1 to 2^53-1", "index": 2}
    # All or nothing: the next event is the first thing the client receives.
    assert (await in_thread(post, port, milestone_event(5))).status == 202
    assert await ids(ws, 1) == [5]


@pytest.mark.parametrize("body, error, index", [
    (milestone_event(1, event_type="Bad Type"),
     "event_type: must be 1 to 64 characters of a-z, 0-9 and _", 0),
    ([milestone_event(1), {"event_type": "x"}],
     "[1]: needs `project` or `users` to be delivered", 1),
    ([milestone_event(1), 42], "[1]: must be a JSON object", 1),
])
def test_an_invalid_event_is_named_with_its_index(start_herald, body, error, index):
    herald, port = start(start_herald)

    answer = post(port, body)

    assert_json_answer(answer, 400)
    assert answer.json == {"error": error, "index": index}


@pytest.mark.parametrize("body, words", [
    (b'[{"event_type": "x", ', ["body: invalid JSON", "line 1"]),
    (b"", ["body: invalid JSON"]),
    (b'{"a": 1} trailing', ["body: invalid JSON"]),
    (b'{"a": "\xff"}', ["body: invalid JSON"]),
])
def test_invalid_json_is_400_without_index(start_herald, body, words):
    herald, port = start(start_herald)

    answer = post(port, body)

    assert_error(answer, 400, *words)
    assert "index" not in answer.json


def test_an_array_larger_than_the_ingest_queue_is_400(start_herald):
    herald, port = start(start_herald, core={"ingest": {"queue_size": 16}})

    answer = post(port, [milestone_event(i) for i in range(17)])

    assert_error(answer, 400, "17 events", "16")
    assert post(port, [milestone_event(i) for i in range(16)]).json == {"accepted": 16}


# ------------------------------------------------------------------------------------------ 401


def assert_401(answer, challenge):
    assert_error(answer, 401)
    assert answer.headers["www-authenticate"] == challenge, answer


BEARER = 'Bearer realm="herald"'
HMAC = 'HMAC-SHA256 header="X-Herald-Signature"'


async def test_bearer_token(start_herald):
    herald, port = start(start_herald)
    ws = await subscribed(herald)
    event = milestone_event(1)

    for kwargs in [{"token": None}, {"token": "wrong"}, {"token": TOKEN + "x"},
                   {"token": TOKEN[:-1]}, {"token": None, "headers": {"Authorization": TOKEN}},
                   {"token": None, "headers": {"Authorization": f"Basic {TOKEN}"}}]:
        answer = await in_thread(post, port, event, **kwargs)
        assert_401(answer, BEARER)
        assert "bearer" in answer.json["error"]

    lower = await in_thread(post, port, milestone_event(2), token=None,
                            headers={"Authorization": f"bearer {TOKEN}"})
    assert lower.json == {"accepted": 1}, "the scheme is case-insensitive"
    assert await ids(ws, 1) == [2], "a refused request delivered something"


async def test_hmac_signature(start_herald):
    herald, port = start(start_herald, auth="hmac")
    ws = await subscribed(herald)
    body = encode(milestone_event(1))
    other = encode(milestone_event(2))

    for kwargs in [{}, {"signature": sign(other)}, {"signature": sign(body, "wrong key")},
                   {"signature": sign(body)[7:]}, {"signature": "sha1=" + sign(body)[7:]},
                   {"signature": sign(body)[:-2]}, {"signature": sign(body)[:-1] + "g"}]:
        answer = await in_thread(post, port, body, token=None, **kwargs)
        assert_401(answer, HMAC)
        assert "X-Herald-Signature" in answer.json["error"]

    ok = await in_thread(post, port, body, token=None, signature=True)
    assert ok.json == {"accepted": 1}
    upper = await in_thread(post, port, other, token=None,
                            signature="sha256=" + sign(other)[7:].upper())
    assert upper.json == {"accepted": 1}, "hex digits may be upper case"
    assert await ids(ws, 2) == [1, 2], "a refused request delivered something"


async def test_bearer_and_hmac_must_both_pass(start_herald):
    herald, port = start(start_herald, auth="both")
    ws = await subscribed(herald)
    body = encode(milestone_event(1))

    assert_401(await in_thread(post, port, body, token=TOKEN), BEARER + ", " + HMAC)
    assert_401(await in_thread(post, port, body, token=None, signature=True),
               BEARER + ", " + HMAC)
    assert_401(await in_thread(post, port, body, token="wrong", signature=True),
               BEARER + ", " + HMAC)
    assert_401(await in_thread(post, port, body, token=TOKEN, signature=sign(b"other")),
               BEARER + ", " + HMAC)
    answer = await in_thread(post, port, body, token=TOKEN, signature=True)
    assert answer.json == {"accepted": 1}
    assert await ids(ws, 1) == [1]


def test_no_credentials_are_refused_at_start(tmp_path):
    config, env, _ = webhook_config(auth=None)
    path = write_config(tmp_path / "herald.yaml", config)

    result = run_herald(["check-config", "-c", str(path)], env=env)

    assert result.returncode != 0
    assert "no credentials configured" in result.stderr, result.stderr
    assert "allow_unauthenticated" in result.stderr


async def test_allow_unauthenticated(start_herald):
    herald, port = start(start_herald, auth=None, allow_unauthenticated=True)
    ws = await subscribed(herald)

    answer = await in_thread(post, port, milestone_event(1), token=None)

    assert answer.json == {"accepted": 1}
    assert await ids(ws, 1) == [1]
    herald.wait_for_log(r"allow_unauthenticated: anyone who reaches")


# ---------------------------------------------------------------------- 404, 405, 415, /healthz


def test_healthz(start_herald):
    herald, port = start(start_herald)

    answer = request(port, "GET", "/healthz", token=None)

    assert_json_answer(answer, 200)
    assert answer.json == {"status": "ok"}
    answer = request(port, "POST", "/healthz", b"{}", token=None)
    assert_error(answer, 405)
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_on_the_path_are_405(start_herald, method):
    herald, port = start(start_herald)

    answer = request(port, method, "/events", b"{}" if method in ("PUT", "PATCH") else None)

    assert_error(answer, 405, "method not allowed")
    assert answer.headers["allow"] == "POST"


@pytest.mark.parametrize("method, path", [("GET", "/"), ("POST", "/event"),
                                          ("POST", "/events/x"), ("GET", "/ws/notifications/")])
def test_unknown_paths_are_404(start_herald, method, path):
    herald, port = start(start_herald)

    answer = request(port, method, path, milestone_event(1) if method == "POST" else None)

    assert_error(answer, 404, "not found")


def test_a_configured_path(start_herald):
    herald, port = start(start_herald, path="/hooks/herald")

    assert request(port, "POST", "/hooks/herald", milestone_event(1)).json == {"accepted": 1}
    assert_error(request(port, "POST", "/events", milestone_event(1)), 404)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonx", "json"])
def test_a_body_that_is_not_json_is_415(start_herald, content_type):
    herald, port = start(start_herald)

    answer = post(port, milestone_event(1), content_type=content_type)

    assert_error(answer, 415, "application/json")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON",
                                          "application/json ;charset=UTF-8"])
def test_json_content_types_with_parameters_are_accepted(start_herald, content_type):
    herald, port = start(start_herald)

    assert post(port, milestone_event(1), content_type=content_type).json == {"accepted": 1}


# ------------------------------------------------------------------------------------- 411, 413


def test_a_body_over_max_body_is_413_and_the_connection_stays_usable(start_herald):
    herald, port = start(start_herald, max_body=1024)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    fits = [milestone_event(i) for i in range(3)]
    over = [milestone_event(i) for i in range(20)]
    assert len(encode(fits)) <= 1024 < len(encode(over))

    answer = post(port, over, conn=conn)

    assert_error(answer, 413, "1024")
    sock = conn.sock
    assert sock is not None, "the connection was closed after a 413 of a short body"
    assert post(port, fits, conn=conn).json == {"accepted": 3}
    assert conn.sock is sock
    conn.close()


def test_a_huge_content_length_is_413_at_once_and_closes(start_herald):
    """The answer comes from the headers alone: the 10 bytes sent are all the server gets, and
    it does not wait for (or read) the gigabyte announced."""
    herald, port = start(start_herald)
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n")

    received, closed = raw_exchange(port, head.encode() + b"[" * 10, timeout=10)

    status, headers, body = parse_raw(received)
    assert status == 413 and headers["content-type"] == "application/json"
    assert body["error"] == "body larger than 1048576 bytes"
    assert closed and headers["connection"] == "close"


def test_a_post_without_content_length_is_411(start_herald):
    herald, port = start(start_herald)
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2\r\n[]\r\n0\r\n\r\n")

    received, closed = raw_exchange(port, head.encode(), timeout=10)

    status, headers, body = parse_raw(received)
    assert status == 411 and "Content-Length" in body["error"]
    assert closed


# ----------------------------------------------------------------------------------- keep-alive


async def test_keep_alive_serves_many_requests_on_one_connection(start_herald):
    herald, port = start(start_herald)
    ws = await subscribed(herald)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sequence = [
        ({"body": milestone_event(1)}, 202),
        ({"body": [milestone_event(2), milestone_event(3)]}, 202),
        ({"body": milestone_event(4, project={"id": 0})}, 400),
        ({"body": milestone_event(5), "token": "wrong"}, 401),
        ({"body": milestone_event(6), "content_type": "text/plain"}, 415),
        ({"method": "GET", "path": "/healthz"}, 200),
        ({"method": "GET"}, 405),
        ({"path": "/elsewhere", "body": milestone_event(7)}, 404),
        ({"body": milestone_event(8)}, 202),
    ] * 3
    sock = None

    for kwargs, status in sequence:
        answer = await in_thread(request, port, conn=conn, **kwargs)
        assert answer.status == status, (kwargs, answer)
        assert answer.headers.get("connection") != "close"
        sock = sock or conn.sock
        assert conn.sock is sock, f"a new connection was opened after {kwargs}"

    conn.close()
    assert await ids(ws, 12) == [1, 2, 3, 8] * 3


# ------------------------------------------------------------------------------- 503, 504, stop


async def test_a_full_ingest_queue_is_503_with_retry_after(start_herald, tmp_path):
    """queue_size 16 and a stalled core loop: 16 events fill the queue (a 17-event array would
    be a 400, larger than the queue), so one more event is refused with 503; once the loop is
    free again everything accepted is delivered and the refused event can be sent again.

    1. A stall event: the core drains it and runs its formatter; the log shows it started.
    2. 16 events: the queue is empty (the stall event was drained), they fit exactly; the log
       shows the plugin queued them. Their answer waits for the core.
    3. One more event: no room -> 503.
    """
    # The stall lasts seconds, more on a loaded machine or under ASan: the answers must not
    # time out meanwhile.
    herald, port = start(start_herald, tmp_path, retry_after=7, ack_timeout_ms=120000,
                         core={"ingest": {"queue_size": 16},
                               "scripts": {"instructions": 200000000}})
    ws = await subscribed(herald)
    pool = concurrent.futures.ThreadPoolExecutor(2)

    stalled = pool.submit(post, port, milestone_event(100, event_type="stall"))
    herald.wait_for_log(STALL_LOG, timeout=20)
    filled = pool.submit(post, port, [milestone_event(i) for i in range(16)])
    herald.wait_for_log(r"127\.0\.0\.1: 16 events queued", timeout=20)

    refused = await in_thread(post, port, milestone_event(16))

    assert_json_answer(refused, 503)
    assert refused.json == {"error": "ingest queue full"}
    assert refused.headers["retry-after"] == "7"
    assert not stalled.done() and not filled.done(), "answered before the core took them"
    assert (await in_thread(stalled.result)).json == {"accepted": 1, "dropped": 1}
    assert (await in_thread(filled.result)).json == {"accepted": 16}
    assert (await in_thread(post, port, milestone_event(16))).json == {"accepted": 1}
    assert await ids(ws, 17) == list(range(17))
    pool.shutdown()


async def test_no_acknowledgement_in_time_is_504(start_herald, tmp_path):
    # A stall of 10^9 instructions (the most scripts.instructions allows; a `while true` loop
    # runs them in about a second on a fast CPU, where 10^8 took less than the 300 ms): well
    # past the 300 ms, short enough that the stop afterwards is prompt.
    herald, port = start(start_herald, tmp_path, ack_timeout_ms=300,
                         core={"scripts": {"instructions": 1000000000}})

    started = time.monotonic()
    answer = await in_thread(post, port, milestone_event(1, event_type="stall"))

    assert_error(answer, 504, "acknowledge")
    assert time.monotonic() - started < 10
    herald.wait_for_log(r"error.*127\.0\.0\.1: 504: 1 of 1 events not acknowledged after 300 ms")


def test_a_request_in_flight_at_stop_is_answered_503(start_herald):
    """A request whose body is still arriving when herald stops gets a 503 and the connection
    closes; herald exits 0 (checked by the fixture)."""
    herald, port = start(start_herald, retry_after=3)
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode() + b"[")
        # The plugin has the request once its body started: a second request on another
        # connection is answered after it (one thread, in order of arrival).
        assert request(port, "GET", "/healthz", token=None).status == 200

        herald.terminate()
        received, closed = read_until_closed(s)

    status, headers, body = parse_raw(received)
    assert (status, body) == (503, {"error": "shutting down"})
    assert headers["retry-after"] == "3" and closed
    assert herald.wait() == 0


# ----------------------------------------------------------------------------------- pipelining


def test_a_pipelined_request_closes_the_connection_after_the_first_answer(start_herald):
    """Pipelining is not supported: a request that arrives before the answer to the previous
    one is never read; the first is answered, then the connection is closed, and the plugin
    keeps serving (hostile variants: test_11_webhook_hostile.py)."""
    herald, port = start(start_herald)
    body = encode(milestone_event(1))
    one = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()

    received, closed = raw_exchange(port, (one + body) * 2, timeout=10)

    status, _, answer = parse_raw(received)
    assert (status, answer) == (202, {"accepted": 1}) and closed
    herald.wait_for_log(r"pipelined requests are not supported")
    assert request(port, "GET", "/healthz", token=None).status == 200

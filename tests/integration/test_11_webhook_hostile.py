"""The webhook against hostile HTTP framing (issue 11, findings 2 and 9): bytes sent while a
request waits for its acknowledgements, Transfer-Encoding with or without Content-Length, and
refused requests whose body carries another request. Every case runs over a real socket against
the real herald and plugin; the fixture fails a test on any sanitizer report in herald's log.

The rule checked throughout: the webhook reads a request's body by its Content-Length and
nothing else; a request whose framing it cannot trust (Transfer-Encoding, a bad or repeated
Content-Length, bytes that arrive before its answer was sent) is answered and the connection
closed, so no byte of it is ever read as a request of its own.
"""

import asyncio
import socket
import time

import pytest

from harness import PROJECT, connect, milestone_event, recv_json, subscribe
from webhook_harness import (STALL_LOG, TOKEN, encode, parse_all, post, raw_request, read_answer,
                             read_until_closed, webhook_config)

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def start(start_herald, tmp_path=None, **kwargs):
    config, env, port = webhook_config(tmp_path, **kwargs)
    return start_herald(config, env), port


def exchange(port, data, timeout=20):
    """Send `data` on a new connection; every answer received until the server closed it, and
    whether it did within `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        received, closed = read_until_closed(s)
    return parse_all(received), closed


async def marker_is_next(port, ws, marker_id, **kwargs):
    """Post a marker event on a new connection (`kwargs` as for post()): it must be the next
    notification on `ws`, so nothing smuggled or pipelined was delivered before it."""
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(
        None, lambda: post(port, milestone_event(marker_id), **kwargs))
    assert answer.status == 202, answer
    got = await recv_json(ws)
    assert got["data"]["id"] == marker_id, f"delivered before the marker: {got}"


# ------------------------------------------------------ finding 2: bytes while a request waits


OTHER = {"id": 3, "title": "Elsewhere"}  # a project the test's client is not subscribed to


def big_array(first_id, project, n=80):
    """About 26 KB of events: bodies over lws' 4 KiB reads are what lws 4.1.6 mis-handed."""
    return [milestone_event(first_id + i, title="x" * 200, project=project) for i in range(n)]


@pytest.mark.parametrize("auth", ["bearer", "hmac"])
@pytest.mark.parametrize("mode", ["together", "after", "in_pieces"])
async def test_a_request_sent_while_one_waits_for_its_acks_is_never_read(
        start_herald, tmp_path, auth, mode):
    """A request whose events wait for the core (its first event stalls the formatter) and a
    second one on the same connection: in the same write, or once the first is queued (whole,
    or in small pieces). The first is answered with `Connection: close`, the connection is
    closed, and the second is never read: nothing of it is delivered. On main, lws 4.1.6 handed
    the second body out of a freed buffer list (ASan: heap-use-after-free in on_body) or out of
    the wrong place. In HMAC mode the second is the first replayed byte for byte, as an
    attacker with one captured request would send it."""
    herald, port = start(start_herald, tmp_path, auth=auth, ack_timeout_ms=120000,
                         core={"scripts": {"instructions": 1000000000}})
    ws = await connect(herald, 7)
    await subscribe(ws)
    kw = {"token": TOKEN} if auth == "bearer" else {"signature": True, "token": None}
    events = [milestone_event(1, event_type="stall", project=OTHER)] + big_array(1000, OTHER)
    first = raw_request(events, **kw)
    second = first if auth == "hmac" else raw_request(big_array(2000, PROJECT), **kw)
    loop = asyncio.get_running_loop()

    def attack():
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(first + (second if mode == "together" else b""))
            herald.wait_for_log(STALL_LOG, timeout=30)
            herald.wait_for_log(r"127\.0\.0\.1: 81 events queued", timeout=30)
            if mode == "in_pieces":
                for i in range(0, len(second), 4000):
                    s.sendall(second[i:i + 4000])
                    time.sleep(0.01)
            elif mode == "after":
                s.sendall(second)
            return read_until_closed(s)

    received, closed = await loop.run_in_executor(None, attack)

    answers = parse_all(received)
    assert [(a[0], a[2]) for a in answers] == [(202, {"accepted": 81, "dropped": 1})], received
    assert answers[0][1].get("connection") == "close"
    assert closed, "the connection stayed open after bytes arrived during the wait"
    herald.wait_for_log(r"pipelined")
    await marker_is_next(port, ws, 99, **kw)


async def test_pipelined_requests_in_one_write_are_answered_once_then_closed(start_herald):
    herald, port = start(start_herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    one = raw_request(milestone_event(1))
    loop = asyncio.get_running_loop()

    answers, closed = await loop.run_in_executor(
        None, lambda: exchange(port, one + raw_request(milestone_event(2)) + HEALTHZ))

    assert [(a[0], a[2]) for a in answers] == [(202, {"accepted": 1})]
    assert answers[0][1].get("connection") == "close" and closed
    assert (await recv_json(ws))["data"]["id"] == 1
    await marker_is_next(port, ws, 99)


# --------------------------------------------- finding 9: Transfer-Encoding, Content-Length


SMUGGLED = raw_request(milestone_event(66))


@pytest.mark.parametrize("token", [TOKEN, None, "wrong"])
@pytest.mark.parametrize("te", ["chunked", "Chunked", "gzip, chunked", "identity", "chunked\r\n"
                                "Transfer-Encoding: chunked"])
async def test_transfer_encoding_with_content_length_is_400_and_closes(start_herald, token, te):
    """TE.CL smuggling: a proxy that honours chunked encoding sees one request whose chunked
    body ends at `0\\r\\n\\r\\n`; whatever follows it is, to the proxy, the start of the next
    request of another client. The webhook must not read it as a request either: one answer,
    400, and the connection closed (credentials or not)."""
    herald, port = start(start_herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    chunk_body = b"0\r\n\r\n"
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + "Content-Type: application/json\r\n"
            f"Content-Length: {len(chunk_body)}\r\nTransfer-Encoding: {te}\r\n\r\n").encode()
    loop = asyncio.get_running_loop()

    answers, closed = await loop.run_in_executor(
        None, lambda: exchange(port, head + chunk_body + SMUGGLED + HEALTHZ))

    assert len(answers) == 1, answers
    status, headers, body = answers[0]
    assert status == 400 and "Transfer-Encoding" in body["error"], answers
    assert headers.get("connection") == "close" and closed
    await marker_is_next(port, ws, 99)


@pytest.mark.parametrize("te", ["chunked", "gzip", "chunked, identity"])
def test_transfer_encoding_without_content_length_is_411_and_closes(start_herald, te):
    herald, port = start(start_herald)
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: {te}\r\n\r\n").encode()
    chunked = b"2\r\n[]\r\n0\r\n\r\n"

    answers, closed = exchange(port, head + chunked + HEALTHZ)

    assert [a[0] for a in answers] == [411] and closed, answers
    assert answers[0][1].get("connection") == "close"


@pytest.mark.parametrize("headers", [
    "Content-Length: 2\r\nContent-Length: 2",       # repeated, even when equal
    "Content-Length: 2\r\nContent-Length: 40",      # CL.CL
    "Content-Length: 2, 2",
    "Content-Length: +2",
    "Content-Length: 0x2",
    "Content-Length: 2 2",
    "Content-Length: 18446744073709551618",         # 2^64 + 2: must not wrap around to 2
    "Transfer-Encoding : chunked\r\nContent-Length: 2",  # space before the colon
    "Content-Length : 2",
    " Content-Length: 2",                            # obs-fold / leading space
    "Content-Length: 2\r\n\tchunked",                # obs-fold continuation
    "X-Pad: a\rContent-Length: 2",                   # bare CR inside a line
])
def test_ambiguous_framing_is_400_and_closes(start_herald, headers):
    """Header forms that parsers disagree about: each is refused with 400 and the connection
    closed, so whatever one parser took for the body is never read as the next request."""
    herald, port = start(start_herald)
    head = (f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\n{headers}\r\n\r\n").encode()

    answers, closed = exchange(port, head + b"[]" + HEALTHZ)

    assert [a[0] for a in answers] == [400] and closed, answers
    assert answers[0][1].get("connection") == "close"


# ------------------------------------------------ every refusal: the body is never a request


REFUSALS = [
    pytest.param("POST", "/events", {"Authorization": "Bearer wrong"}, 401, id="401"),
    pytest.param("POST", "/nowhere", {}, 404, id="404"),
    pytest.param("GET", "/events", {}, 405, id="405-get"),
    pytest.param("PUT", "/events", {}, 405, id="405-put"),
    pytest.param("POST", "/healthz", {}, 405, id="405-healthz"),
    pytest.param("GET", "/healthz", {}, 200, id="200-healthz"),
    pytest.param("POST", "/events", {"Content-Type": "text/plain"}, 415, id="415"),
]


def head_of(method, path, body_len, extra):
    headers = {"Host": "x", "Authorization": f"Bearer {TOKEN}",
               "Content-Type": "application/json", **extra,
               "Content-Length": str(body_len)}
    return (f"{method} {path} HTTP/1.1\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


@pytest.mark.parametrize("method, path, extra, status", REFUSALS)
async def test_a_refused_body_that_holds_a_request_is_dropped_not_served(
        start_herald, method, path, extra, status):
    """A body (by its Content-Length) that is itself a request: the refusal is the one answer,
    the body is read and dropped, and the connection serves the next request sent after it."""
    herald, port = start(start_herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    loop = asyncio.get_running_loop()

    def run():
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(head_of(method, path, len(SMUGGLED), extra) + SMUGGLED)
            first = read_answer(s)
            s.sendall(HEALTHZ)
            return first, read_answer(s)

    first, second = await loop.run_in_executor(None, run)

    assert first[0] == status, first
    assert first[1].get("connection") != "close"
    assert second[0] == 200 and second[2] == {"status": "ok"}, second
    await marker_is_next(port, ws, 99)


@pytest.mark.parametrize("method, path, extra, status", REFUSALS + [
    pytest.param("POST", "/events", {}, 413, id="413")])
def test_a_request_after_a_refused_one_in_the_same_write_closes(start_herald, method, path,
                                                                extra, status):
    """The refused request's body, then a second request before the answer: one answer, then
    the connection is closed (pipelining is not supported)."""
    herald, port = start(start_herald, max_body=64)
    body = encode([milestone_event(i) for i in range(3)]) if status == 413 else b"{}"

    answers, closed = exchange(port, head_of(method, path, len(body), extra) + body + HEALTHZ)

    assert [a[0] for a in answers] == [status] and closed, answers
    assert answers[0][1].get("connection") == "close"


def test_a_request_without_a_body_followed_by_bytes_is_answered_once(start_herald):
    """`GET /events` carries no body (no Content-Length): the POST right behind it is a
    pipelined request, not its body, and is not served."""
    herald, port = start(start_herald)

    answers, closed = exchange(port, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n" + SMUGGLED)

    assert [a[0] for a in answers] == [405] and closed, answers


@pytest.mark.parametrize("data, status", [
    (b"POST /events HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"POST /events HTTP/2.0\r\nHost: x\r\n\r\n", 400),
    (b"POST  /events HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"POST /events\r\nHost: x\r\n\r\n", 400),
    (b"\x00\x01\x02 / HTTP/1.1\r\n\r\n", 400),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
])
def test_malformed_requests_are_refused_and_closed(start_herald, data, status):
    herald, port = start(start_herald)

    answers, closed = exchange(port, data + HEALTHZ)

    assert [a[0] for a in answers] == [status] and closed, answers


def test_http_1_0_is_answered_and_closed(start_herald):
    herald, port = start(start_herald)

    answers, closed = exchange(port, b"GET /healthz HTTP/1.0\r\n\r\n")

    assert [a[0] for a in answers] == [200] and closed, answers


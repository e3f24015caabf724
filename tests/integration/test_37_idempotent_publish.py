"""Idempotent publishing on one node: an event that carries an `id` already accepted within
`ingest.dedup_window` is acknowledged and dropped, so a source may always resend."""

import asyncio
import re

import harness
from harness import connect, milestone_event, recv_json, subscribe


def duplicates(herald):
    status, body = harness.http_get(herald.port, "/metrics")
    assert status == 200, body
    return int(re.search(r"^herald_events_duplicate_total (\d+)$", body, re.M).group(1))


async def test_a_resent_event_is_delivered_once(start_herald):
    herald = start_herald()
    ws = await connect(herald, 7)
    await subscribe(ws)
    for data_id, event_id in [(1, "order-1"), (2, "order-2"), (1, "order-1"), (3, None),
                              (3, None), (2, "order-2"), (4, "order-1x")]:
        herald.send(milestone_event(data_id, id=event_id))
    got = [(await recv_json(ws))["data"]["id"] for _ in range(5)]
    # Without an id nothing is de-duplicated (3 twice); with one, a resend is dropped.
    assert got == [1, 2, 3, 3, 4], got
    herald.send(milestone_event(5))
    assert (await recv_json(ws))["data"]["id"] == 5
    assert duplicates(herald) == 2


async def test_the_window_ends_and_zero_turns_it_off(start_herald):
    herald = start_herald({"ingest": {"dedup_window": 1}})
    ws = await connect(herald, 7)
    await subscribe(ws)
    herald.send(milestone_event(1, id="x"))
    assert (await recv_json(ws))["data"]["id"] == 1
    herald.send(milestone_event(2, id="x"))  # within the second: dropped
    herald.send(milestone_event(3))
    assert (await recv_json(ws))["data"]["id"] == 3
    await asyncio.sleep(1.2)
    herald.send(milestone_event(4, id="x"))  # after the window: taken again
    assert (await recv_json(ws))["data"]["id"] == 4

    off = start_herald({"ingest": {"dedup_window": 0}})
    ws = await connect(off, 7)
    await subscribe(ws)
    off.send(milestone_event(1, id="y"))
    off.send(milestone_event(2, id="y"))
    assert [(await recv_json(ws))["data"]["id"] for _ in range(2)] == [1, 2]


async def test_an_id_that_is_not_a_short_string_is_refused(herald):
    ws = await connect(herald, 7)
    await subscribe(ws)
    for bad in (5, "", "x" * 129, ["a"]):
        line = herald.send(milestone_event(1, id=bad))
        herald.wait_for_log(rf"line {line}: id: must be a string of 1 to 128 bytes")
    herald.send(milestone_event(2, id="y" * 128))
    assert (await recv_json(ws))["data"]["id"] == 2


async def test_the_webhook_idempotency_key_names_the_event(start_herald, tmp_path):
    from webhook_harness import post, webhook_config
    config, env, port = webhook_config(tmp_path)
    herald = start_herald(config, env)
    ws = await connect(herald, 7)
    await subscribe(ws)
    key = {"Idempotency-Key": "order-7/shipped"}
    first = post(port, milestone_event(1), headers=key)
    again = post(port, milestone_event(1), headers=key)  # a resend after a lost answer
    assert (first.status, again.status) == (202, 202), (first.json, again.json)
    other = post(port, milestone_event(2), headers={"Idempotency-Key": "order-8"})
    assert other.status == 202
    assert [(await recv_json(ws))["data"]["id"] for _ in range(2)] == [1, 2]
    assert duplicates(herald) == 1
    # An event's own id wins; an array's events carry their own (the header is ignored).
    own = post(port, milestone_event(3, id="own-3"), headers={"Idempotency-Key": "order-8"})
    array = post(port, [milestone_event(4, id="own-4"), milestone_event(5)],
                 headers={"Idempotency-Key": "order-7/shipped"})
    assert (own.status, array.status) == (202, 202), (own.json, array.json)
    assert [(await recv_json(ws))["data"]["id"] for _ in range(3)] == [3, 4, 5]
    assert duplicates(herald) == 1
    # One value of printable characters.
    for bad in ('a"b', "x" * 129):
        answer = post(port, milestone_event(4), headers={"Idempotency-Key": bad})
        assert answer.status == 400, (bad, answer.json)

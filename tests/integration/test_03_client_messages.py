"""Client messages: bad ones are answered with {"type":"error","message","code"} and the
connection keeps working; an oversized one closes it with 1009; a full room refuses more."""

import json

import pytest
import websockets

from harness import (RECV_TIMEOUT, connect, expect_error, expect_nothing_then, milestone_event,
                     recv_json, subscribe, unsubscribe)


def subscribe_text(project_id, kind="subscribe_project"):
    return json.dumps({"type": kind, "project_id": project_id})


BAD_MESSAGES = {
    "not_json": ("hello there", "invalid_json"),
    "truncated_json": ('{"type": "subscribe_project", ', "invalid_json"),
    "array": ("[1]", "invalid_json"),
    "string": ('"subscribe_project"', "invalid_json"),
    "unknown_type": ('{"type": "dance"}', "unknown_type"),
    "missing_type": ('{"project_id": 2}', "unknown_type"),
    "project_id_missing": ('{"type": "subscribe_project"}', "invalid_project_id"),
    "project_id_zero": (subscribe_text(0), "invalid_project_id"),
    "project_id_negative": (subscribe_text(-3), "invalid_project_id"),
    "project_id_string": (subscribe_text("5"), "invalid_project_id"),
    "project_id_fraction": (subscribe_text(5.5), "invalid_project_id"),
    "project_id_2**63": (subscribe_text(2**63), "invalid_project_id"),
    "unsubscribe_project_id_string": (subscribe_text("5", "unsubscribe_project"),
                                      "invalid_project_id"),
}


async def still_works(herald, ws):
    """A subscription and a notification still go through on `ws`."""
    await subscribe(ws)
    herald.send(milestone_event(1))
    assert (await recv_json(ws))["data"]["id"] == 1


@pytest.mark.parametrize("text, code", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
async def test_bad_message_is_answered_and_connection_stays(shared_herald, text, code):
    ws = await connect(shared_herald)
    await ws.send(text)
    await expect_error(ws, code)
    await still_works(shared_herald, ws)


async def test_binary_frame_is_unsupported_and_ignored(shared_herald):
    ws = await connect(shared_herald)
    await ws.send(subscribe_text(2).encode())
    await expect_error(ws, "unsupported")
    shared_herald.send(milestone_event(1))  # the binary subscribe had no effect
    await expect_nothing_then(ws, shared_herald.send_barrier(user=7))
    await still_works(shared_herald, ws)


async def test_message_over_the_size_limit_closes_with_1009(start_herald):
    herald = start_herald({"server": {"max_message_size": 1024}})
    ws = await connect(herald)
    await ws.send(json.dumps({"type": "pad_" + "x" * 900}))  # under the limit: handled
    await expect_error(ws, "unknown_type")
    await ws.send(json.dumps({"type": "subscribe_project", "project_id": 2, "pad": "x" * 2000}))
    with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
        await recv_json(ws, RECV_TIMEOUT)
    assert closed.value.rcvd is not None, "connection dropped without a close frame"
    assert closed.value.rcvd.code == 1009
    await still_works(herald, await connect(herald))


async def test_full_room_refuses_a_subscriber_who_stays_connected(start_herald):
    herald = start_herald({"server": {"max_room_members": 2}})
    members = [await connect(herald, 7), await connect(herald, 8)]
    for ws in members:
        await subscribe(ws)
    late = await connect(herald, 9)
    await late.send(subscribe_text(2))
    await expect_error(late, "room_full")

    herald.send(milestone_event(1))
    for ws in members:
        assert (await recv_json(ws))["data"]["id"] == 1
    await expect_nothing_then(late, herald.send_barrier(user=9))

    await unsubscribe(members[1])  # a place frees up
    await subscribe(late)
    herald.send(milestone_event(2))
    for ws in (members[0], late):
        assert (await recv_json(ws))["data"]["id"] == 2

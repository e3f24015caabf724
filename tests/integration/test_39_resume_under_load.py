"""Resume that holds under load (issue 13, cases 2 and 7): a replay larger than the send queue
goes out as the connection drains, with the live stream after it and nothing missed or
repeated; a reader dropped for falling behind is told so with a 1013 close frame."""

import asyncio
import re

import harness
from harness import (PROJECT, connect, expect_nothing_then, milestone_event, recv_json,
                     send_json, subscribe, ws_url)
from hard_harness import RawWS, wait_until

BIG = "b" * 30_000  # a 30 KB title: 60 of them are well over the 1 MiB send queue


async def test_a_replay_larger_than_the_send_queue_is_served_whole(start_herald):
    herald = start_herald({"history": {"size": 500}})
    ws = await connect(herald, 7)
    await subscribe(ws)
    herald.send(milestone_event(0))
    seen = await recv_json(ws)
    await ws.close()

    # Away: 60 notifications of ~60 KB each (the title twice) reach the room's history.
    barrier = await connect(herald, 8)
    for i in range(1, 61):
        herald.send(milestone_event(i, title=BIG))
    await expect_nothing_then(barrier, herald.send_barrier(8))  # all 60 were routed

    back = await harness.open_ws(ws_url(herald.port, harness.make_token(7)))
    await send_json(back, {"type": "subscribe_project", "project_id": PROJECT["id"],
                           "since": seen["pos"]})
    # Live notifications while the replay is under way come after it, once each.
    for i in range(61, 71):
        herald.send(milestone_event(i))
    got = [(await recv_json(back, timeout=30))["data"]["id"] for _ in range(70)]
    assert got == list(range(1, 71)), got[:5] + ["..."] + got[-5:]
    herald.send(milestone_event(71))
    assert (await recv_json(back))["data"]["id"] == 71


async def test_a_resume_in_the_user_room_while_live_ones_arrive(start_herald):
    herald = start_herald({"history": {"size": 500}})
    ws = await connect(herald, 7)
    herald.send(milestone_event(0, users=[7]))
    seen = await recv_json(ws)
    await ws.close()
    for i in range(1, 41):
        herald.send(milestone_event(i, users=[7], title=BIG))
    await asyncio.sleep(0.3)
    back = await harness.open_ws(ws_url(herald.port, harness.make_token(7)) +
                                 f"&since={seen['pos']}")
    for i in range(41, 51):
        herald.send(milestone_event(i, users=[7]))
    got = [await recv_json(back, timeout=30) for _ in range(50)]
    assert [m["data"]["id"] for m in got] == list(range(1, 51))
    assert {m["room"] for m in got} == {"user_7"}


def slow_disconnects(herald):
    status, body = harness.http_get(herald.port, "/metrics")
    found = re.search(r'^herald_disconnects_total\{reason="slow_reader"\} (\d+)$', body, re.M)
    return int(found.group(1)) if status == 200 and found else -1


async def test_a_dropped_slow_reader_gets_the_close_frame_1013(start_herald):
    herald = start_herald()
    raw = await RawWS.connect(herald.port, harness.make_token(7), rcvbuf=4096)
    await raw.send_json({"type": "subscribe_project", "project_id": PROJECT["id"]})
    await raw.sync()
    for i in range(2000):  # ~32 MB: over the kernel's buffers and the 1 MiB send queue
        herald.send(milestone_event(i, title="s" * 8000))
    await wait_until(lambda: slow_disconnects(herald) == 1, timeout=20,
                     what="the slow reader was dropped")
    # Reading again within the close's deadline, it finds what the kernel held, then the close
    # frame that says why (1013: reconnect), not a bare end of the connection.
    how, code = await raw.wait_closed(timeout=30)
    assert (how, code) == ("close", 1013), (how, code, raw.texts)

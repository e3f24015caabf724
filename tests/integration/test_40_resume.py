"""Resume on one node: every notification carries its position "pos"; a client that
reconnects with ?since=<pos> (user room) and subscribes with "since" (project rooms) first gets
exactly what it missed, in order, then the live stream; positions it cannot be served from are
answered with resume_failed."""

from urllib.parse import quote

from harness import (PROJECT, connect, make_token, milestone_event, open_ws, recv_json,
                     send_json, sync, ws_url)


def direct_event(data_id, user, **extra):
    """An event for `user`'s own room (no project)."""
    event = milestone_event(data_id)
    del event["project"]
    event["users"] = [user]
    event.update(extra)
    return event


async def reconnect(herald, user, since):
    return await open_ws(ws_url(herald.port, make_token(user)) + "&since=" + quote(since))


async def subscribe_since(ws, since, project_id=PROJECT["id"]):
    await send_json(ws, {"type": "subscribe_project", "project_id": project_id, "since": since})


async def test_reconnect_gets_exactly_what_was_missed(herald):
    watcher = await connect(herald, 8)  # sees the last event sent: a barrier
    ws = await connect(herald, 7)
    await send_json(ws, {"type": "subscribe_project", "project_id": 2})
    await sync(ws)
    for i in (1, 2, 3):
        herald.send(milestone_event(i))
    seen = [await recv_json(ws) for _ in range(3)]
    assert [m["data"]["id"] for m in seen] == [1, 2, 3]
    last = seen[-1]["pos"]
    await ws.close()

    # While user 7 is away: project events, direct events, and one that excludes user 7.
    for i in (4, 5):
        herald.send(milestone_event(i))
    herald.send(direct_event(6, 7))
    herald.send(milestone_event(7, exclude_user=7))
    herald.send(milestone_event(8))
    herald.send(direct_event(9, 8))  # another user's: never to 7
    assert (await recv_json(watcher))["data"]["id"] == 9  # everything before it is in

    back = await reconnect(herald, 7, last)
    # the user room's history comes first, at connect
    assert (await recv_json(back))["data"]["id"] == 6
    await subscribe_since(back, last)
    replayed = [await recv_json(back) for _ in range(3)]
    assert [m["data"]["id"] for m in replayed] == [4, 5, 8]
    # positions only grow, so a client can keep the last one it saw
    positions = [m["pos"] for m in seen + replayed]
    assert positions == sorted(positions, key=lambda p: [int(x) for x in p.split(":")[1].split("-")])

    # no duplicate at the seam: the next one is live
    herald.send(milestone_event(10))
    assert (await recv_json(back))["data"]["id"] == 10


async def test_since_older_than_the_history_is_refused(start_herald):
    herald = start_herald({"history": {"size": 3}})
    ws = await connect(herald, 7)
    await send_json(ws, {"type": "subscribe_project", "project_id": 2})
    await sync(ws)
    herald.send(milestone_event(1))
    first = await recv_json(ws)
    await ws.close()
    for i in range(2, 8):  # more than the room keeps
        herald.send(milestone_event(i))
    herald.send(direct_event(99, 7))  # a barrier into the user room: all of the above is in

    back = await reconnect(herald, 7, first["pos"])
    assert (await recv_json(back))["data"]["id"] == 99
    await subscribe_since(back, first["pos"])
    assert await recv_json(back) == {"type": "resume_failed", "room": "project_2",
                                     "reason": "expired"}
    herald.send(milestone_event(8))  # the live stream goes on
    assert (await recv_json(back))["data"]["id"] == 8


async def test_position_of_another_log_or_malformed(herald):
    ws = await open_ws(ws_url(herald.port, make_token(7)) + "&since=" + quote("0badc0de:1-0"))
    assert await recv_json(ws) == {"type": "resume_failed", "room": "user_7", "reason": "reset"}
    await subscribe_since(ws, "garbage")
    assert await recv_json(ws) == {"type": "resume_failed", "room": "project_2",
                                   "reason": "invalid"}
    await send_json(ws, {"type": "subscribe_project", "project_id": 3, "since": 12})
    assert (await recv_json(ws))["code"] == "invalid_since"
    herald.send(milestone_event(1))  # subscribed to 2 all the same
    assert (await recv_json(ws))["data"]["id"] == 1

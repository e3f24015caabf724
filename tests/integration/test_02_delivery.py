"""Delivery: events written to herald's stdin reach the right connections as the exact
notification_received messages of API.md, in order, and nobody else."""

import re
import time
from datetime import datetime, timezone

import pytest

from harness import (ACTOR, PROJECT, TIMESTAMP, connect, expect_nothing_then, expect_silence,
                     milestone_event, recv_json, send_json, subscribe, unsubscribe,
                     without_pos)

PT = PROJECT["title"]

# event_type: (data sent, title, message, data expected). The deleted/removed events carry more
# data than the notification may pass on, as a back end serialising the whole object would.
EVENT_TYPES = {
    "milestone_created": ({"id": 42, "title": "Sprint Planning", "progress": 0},
                          "Milestone Created", "Milestone 'Sprint Planning' has been created",
                          {"id": 42, "title": "Sprint Planning", "progress": 0}),
    "milestone_updated": ({"id": 42, "title": "Sprint Review", "progress": 60},
                          "Milestone Updated", "Milestone 'Sprint Review' has been updated",
                          {"id": 42, "title": "Sprint Review", "progress": 60}),
    "milestone_deleted": ({"id": 42, "title": "Sprint Review", "progress": 60},
                          "Milestone Deleted", "Milestone 'Sprint Review' has been deleted",
                          {"id": 42, "title": "Sprint Review"}),
    "team_member_added": ({"user_id": 9, "role": "Developer", "capacity": 80},
                          "Team Member Added", f"A new team member has been added to '{PT}'",
                          {"user_id": 9, "role": "Developer", "capacity": 80}),
    "team_member_updated": ({"user_id": 9, "role": "Tech Lead", "capacity": 60},
                            "Team Member Updated", f"A team member has been updated in '{PT}'",
                            {"user_id": 9, "role": "Tech Lead", "capacity": 60}),
    "team_member_removed": ({"user_id": 9, "role": "Tech Lead", "capacity": 60},
                            "Team Member Removed", f"A team member has been removed from '{PT}'",
                            {"user_id": 9}),
    "project_created": ({"id": 2, "title": PT, "status": "active"},
                        "Project Created", f"Project '{PT}' has been created",
                        {"id": 2, "title": PT, "status": "active"}),
    "project_updated": ({"id": 2, "title": PT, "status": "on_hold"},
                        "Project Updated", f"Project '{PT}' has been updated",
                        {"id": 2, "title": PT, "status": "on_hold"}),
    "project_deleted": ({"id": 2, "title": PT, "status": "on_hold"},
                        "Project Deleted", f"Project '{PT}' has been deleted",
                        {"id": 2, "title": PT}),
}


def notification(event_type, title, message, data, project=PROJECT, timestamp=TIMESTAMP):
    return {"type": "notification_received", "title": title, "message": message,
            "event_type": event_type, "timestamp": timestamp, "actor": ACTOR,
            "project_id": project["id"], "project_title": project["title"], "data": data}


def milestone_notification(event):
    """What a milestone_updated event built by milestone_event() must become, exactly."""
    data = event["data"]
    return notification("milestone_updated", "Milestone Updated",
                        f"Milestone '{data['title']}' has been updated", data, event["project"])


async def subscribed(herald, user, project_id=PROJECT["id"]):
    ws = await connect(herald, user)
    await subscribe(ws, project_id)
    return ws


@pytest.mark.parametrize("event_type", EVENT_TYPES)
async def test_notification_is_exactly_the_documented_message(shared_herald, event_type):
    sent, title, message, data = EVENT_TYPES[event_type]
    ws = await subscribed(shared_herald, 7)
    shared_herald.send({"event_type": event_type, "project": PROJECT, "actor": ACTOR,
                        "data": sent, "timestamp": TIMESTAMP})
    got = await recv_json(ws)
    assert without_pos(got) == notification(event_type, title, message, data)


async def test_subscribe_gets_no_reply(shared_herald):
    ws = await connect(shared_herald, 7)
    await send_json(ws, {"type": "subscribe_project", "project_id": 2})
    await expect_silence(ws)
    event = milestone_event(1)
    shared_herald.send(event)
    assert without_pos(await recv_json(ws)) == milestone_notification(event)


async def test_missing_timestamp_is_ingest_time(shared_herald):
    ws = await subscribed(shared_herald, 7)
    before = int(time.time())
    shared_herald.send(milestone_event(1, timestamp=None))
    got = await recv_json(ws)
    after = time.time()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", got["timestamp"]), got["timestamp"]
    stamp = datetime.strptime(got["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert before <= stamp.replace(tzinfo=timezone.utc).timestamp() <= after


async def test_unknown_event_type_uses_the_fallback(shared_herald):
    ws = await subscribed(shared_herald, 7)
    shared_herald.send(milestone_event(1, event_type="sprint_started"))
    got = await recv_json(ws)
    assert (got["type"], got["event_type"], got["title"]) == \
        ("notification_received", "sprint_started", "Sprint Started")


async def test_unsubscribe_stops_delivery(shared_herald):
    ws = await subscribed(shared_herald, 7)
    shared_herald.send(milestone_event(1))
    assert (await recv_json(ws))["data"]["id"] == 1
    await unsubscribe(ws)
    shared_herald.send(milestone_event(2))
    await expect_nothing_then(ws, shared_herald.send_barrier(user=7))


async def test_unsubscribed_user_gets_nothing(shared_herald):
    ws = await connect(shared_herald, 7)
    shared_herald.send(milestone_event(1))
    await expect_nothing_then(ws, shared_herald.send_barrier(user=7))


async def test_excluded_user_gets_nothing_on_any_tab(shared_herald):
    excluded = [await subscribed(shared_herald, 5), await subscribed(shared_herald, 5)]
    other = await subscribed(shared_herald, 7)
    event = milestone_event(1, exclude_user=5)
    shared_herald.send(event)
    assert without_pos(await recv_json(other)) == milestone_notification(event)
    barrier = shared_herald.send_barrier(user=5)
    for ws in excluded:
        await expect_nothing_then(ws, barrier)


async def test_every_tab_of_a_user_receives(shared_herald):
    tabs = [await subscribed(shared_herald, 7), await subscribed(shared_herald, 7)]
    event = milestone_event(1)
    shared_herald.send(event)
    for ws in tabs:
        assert without_pos(await recv_json(ws)) == milestone_notification(event)


async def test_users_replace_project_routing(shared_herald):
    direct = [await connect(shared_herald, 7), await connect(shared_herald, 9)]
    member = await subscribed(shared_herald, 8)
    event = milestone_event(1, users=[7, 9])
    shared_herald.send(event)
    for ws, user in zip(direct, (7, 9)):
        assert without_pos(await recv_json(ws)) == milestone_notification(event)
        await expect_nothing_then(ws, shared_herald.send_barrier(user))  # one copy only
    await expect_nothing_then(member, shared_herald.send_barrier(user=8))


async def test_hundred_events_arrive_in_order(shared_herald):
    subscribers = [await subscribed(shared_herald, 7), await subscribed(shared_herald, 8)]
    for i in range(1, 101):
        shared_herald.send(milestone_event(i))
    for ws in subscribers:
        ids = [(await recv_json(ws))["data"]["id"] for _ in range(100)]
        assert ids == list(range(1, 101))


async def test_subscribing_twice_delivers_once(shared_herald):
    ws = await subscribed(shared_herald, 7)
    await subscribe(ws)
    shared_herald.send(milestone_event(1))
    assert (await recv_json(ws))["data"]["id"] == 1
    await expect_nothing_then(ws, shared_herald.send_barrier(user=7))


async def test_unsubscribing_from_a_room_one_is_not_in_is_harmless(shared_herald):
    ws = await connect(shared_herald, 7)
    await send_json(ws, {"type": "unsubscribe_project", "project_id": 77})
    await expect_silence(ws)
    await subscribe(ws)
    event = milestone_event(1)
    shared_herald.send(event)
    assert without_pos(await recv_json(ws)) == milestone_notification(event)

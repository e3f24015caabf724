"""The back end's own wording: an event's `title` and `message` strings replace the shipped
formatters' (scripts/lib/notify.lua's notify.wording, default.lua), each on its own; anything
but a non-empty string leaves the script's wording."""

import uuid

import pytest

from harness import ACTOR, PROJECT, TIMESTAMP, connect, milestone_event, recv_json, subscribe
from harness import without_pos

SCRIPT_TITLE = "Milestone Updated"
SCRIPT_MESSAGE = "Milestone 'Sprint Planning' has been updated"

CASES = [
    ({"title": "Jalon mis à jour", "message": "Le jalon a changé"},
     "Jalon mis à jour", "Le jalon a changé"),
    ({"message": "Only the message"}, SCRIPT_TITLE, "Only the message"),
    ({"title": "Only the title"}, "Only the title", SCRIPT_MESSAGE),
    ({"title": "", "message": ""}, SCRIPT_TITLE, SCRIPT_MESSAGE),
    ({"title": None, "message": None}, SCRIPT_TITLE, SCRIPT_MESSAGE),
    ({"title": 5, "message": {"text": "no"}}, SCRIPT_TITLE, SCRIPT_MESSAGE),
    ({"title": ["x"], "message": True}, SCRIPT_TITLE, SCRIPT_MESSAGE),
]


@pytest.mark.parametrize("fields,title,message", CASES)
async def test_shipped_script(shared_herald, fields, title, message):
    ws = await connect(shared_herald, user=7)
    await subscribe(ws)
    event = milestone_event(42)  # its own `title` keyword is the milestone's
    event.update(fields, id=f"evt-{uuid.uuid4().hex}")  # unique: resent ids are dropped
    shared_herald.send(event)
    msg = without_pos(await recv_json(ws))
    assert msg == {"type": "notification_received", "title": title, "message": message,
                   "event_type": "milestone_updated", "timestamp": TIMESTAMP, "actor": ACTOR,
                   "project_id": PROJECT["id"], "project_title": PROJECT["title"],
                   "data": {"id": 42, "title": "Sprint Planning", "progress": 50}}


async def test_default_script(shared_herald):
    ws = await connect(shared_herald, user=7)
    await subscribe(ws)
    shared_herald.send({"event_type": "sprint_started", "project": PROJECT,
                        "title": "Sprint 4 started", "data": {"n": 4}})
    shared_herald.send({"event_type": "sprint_started", "project": PROJECT, "title": "",
                        "message": "Go!"})
    first, second = without_pos(await recv_json(ws)), without_pos(await recv_json(ws))
    assert (first["title"], first["message"], first["data"]) == \
        ("Sprint 4 started", "Sprint Started in 'Mobile App Development'", {"n": 4})
    assert (second["title"], second["message"]) == ("Sprint Started", "Go!")

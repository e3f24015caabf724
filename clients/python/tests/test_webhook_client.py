"""herald.Client over the webhook, against a real herald: what a WebSocket client receives,
retries, and every error."""

import datetime
import decimal
import json
import time
import uuid

import pytest

import harness
import webhook_harness
from helpers import (ACTOR, BOB, HEX_ID, JANE, PROJECT, barrier_event, expect_barrier,
                     in_thread, notification, receive, same)

from herald import (AuthenticationFailed, Client, InvalidEvent, Refused, RetryPolicy,
                    Unavailable)


def client_for(url, **options):
    return Client.webhook(url, token=webhook_harness.TOKEN, **options)


async def test_notify_project_team_delivers_the_back_ends_wording(hub):
    ws = await harness.connect(hub.daemon, user=7)
    await harness.subscribe(ws, 2)
    with client_for(hub.url) as client:
        receipt = await in_thread(
            client.notify_project_team, project=PROJECT, event_type="milestone_created",
            actor_user=JANE, title="Milestone Created",
            message="Milestone 'Sprint Planning' has been created",
            data={"id": 42, "title": "Sprint Planning", "progress": 0},
            timestamp=datetime.datetime(2025, 10, 24, 14, 30, tzinfo=datetime.timezone.utc))
        assert receipt.accepted == 1 and HEX_ID.match(receipt.ids[0])
        same(await receive(ws), notification(
            "Milestone Created", "Milestone 'Sprint Planning' has been created",
            {"id": 42, "title": "Sprint Planning", "progress": 0},
            timestamp="2025-10-24T14:30:00Z"))

        # Wording that differs from the script's survives: it comes from the back end.
        await in_thread(client.notify_project_team, PROJECT, "milestone_created", JANE,
                        title="Jalon créé", message="Le jalon « Sprint 3 » a été créé",
                        data={"id": 43, "title": "Sprint 3"})
        same(await receive(ws), notification("Jalon créé", "Le jalon « Sprint 3 » a été créé",
                                              {"id": 43, "title": "Sprint 3", "progress": 0}))

        # Without wording, the script words it as before.
        await in_thread(client.notify_project_team, PROJECT, "milestone_deleted",
                        data={"id": 44, "title": "Old"})
        same(await receive(ws), notification(
            "Milestone Deleted", "Milestone 'Old' has been deleted", {"id": 44, "title": "Old"},
            event_type="milestone_deleted", actor=None))


async def test_exclude_user_and_plain_values(hub):
    jane = await harness.connect(hub.daemon, user=5)
    bob = await harness.connect(hub.daemon, user=7)
    for ws in (jane, bob):
        await harness.subscribe(ws, 2)
    with client_for(hub.url) as client:
        # Plain values instead of model instances: ids and dicts.
        await in_thread(client.notify_project_team, {"id": 2, "title": PROJECT.title},
                        "team_member_added", ACTOR, data={"user_id": 9, "role": "Dev"},
                        exclude_user=5)
        same(await receive(bob), notification(
            "Team Member Added", "A new team member has been added to 'Mobile App Development'",
            {"user_id": 9, "role": "Dev"}, event_type="team_member_added"))
        event, n = barrier_event(5)
        await in_thread(client.publish, event)
        await expect_barrier(jane, n)


async def test_notify_user_and_users(hub):
    bob = await harness.connect(hub.daemon, user=7)
    other = await harness.connect(hub.daemon, user=9)
    with client_for(hub.url) as client:
        await in_thread(client.notify_user, BOB, "report_ready", actor_user=JANE,
                        title="Report ready", message="Your report is ready",
                        data={"report": 3})
        same(await receive(bob), notification("Report ready", "Your report is ready",
                                              {"report": 3}, event_type="report_ready",
                                              project=None))
        await in_thread(client.notify_users, [BOB, 9, BOB], "digest", message="3 new items")
        for ws in (bob, other):
            msg = await receive(ws)
            assert (msg["title"], msg["message"]) == ("Digest", "3 new items"), msg
        event, n = barrier_event(9)
        await in_thread(client.publish, event)
        await expect_barrier(other, n)  # user 9 got the digest once, nothing for user 7


async def test_values_django_and_python_hold_are_encoded(hub):
    bob = await harness.connect(hub.daemon, user=7)
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with client_for(hub.url) as client:
        await in_thread(client.notify_user, 7, "invoice_paid", data={
            "due": datetime.date(2025, 10, 24), "at": datetime.datetime(2025, 10, 24, 14, 30),
            "key": key, "amount": decimal.Decimal("19.90")})
    msg = await receive(bob)
    assert msg["data"] == {"due": "2025-10-24", "at": "2025-10-24T14:30:00",
                           "key": str(key), "amount": "19.90"}


async def test_publish_many_is_one_request_in_order(hub, proxy):
    bob = await harness.connect(hub.daemon, user=7)
    events = [{"event_type": "step", "users": [7], "data": {"n": n}} for n in range(3)]
    with client_for(proxy.url) as client:
        receipt = await in_thread(client.publish_many, events)
    assert receipt.accepted == 3 and len(set(receipt.ids)) == 3
    [(headers, body)] = proxy.posts()
    sent = json.loads(body)
    assert [e["id"] for e in sent] == receipt.ids
    assert headers["Idempotency-Key"] not in receipt.ids and HEX_ID.match(
        headers["Idempotency-Key"])
    assert [(await receive(bob))["data"]["n"] for _ in range(3)] == [0, 1, 2]


async def test_503_then_success_delivers_once(hub, proxy):
    bob = await harness.connect(hub.daemon, user=7)
    proxy.plan.append(("503", 1))
    with client_for(proxy.url) as client:
        started = time.monotonic()
        receipt = await in_thread(client.notify_user, 7, "retry_test", title="Once")
        assert time.monotonic() - started >= 1.0  # it waited the Retry-After
        (h1, b1), (h2, b2) = proxy.posts()
        assert b1 == b2 and json.loads(b1)["id"] == receipt.ids[0]
        assert h1["Idempotency-Key"] == h2["Idempotency-Key"] == receipt.ids[0]
        assert (await receive(bob))["title"] == "Once"
        event, n = barrier_event(7)
        await in_thread(client.publish, event)
    await expect_barrier(bob, n)


async def test_a_lost_answer_is_sent_again_with_the_same_id(hub, proxy):
    """The proxy forwards the first request, then drops the answer: the client sends the same
    bytes again. (Delivering it once then is the hub's part: de-duplication by id.)"""
    proxy.plan.append(("drop",))
    with client_for(proxy.url) as client:
        receipt = await in_thread(client.notify_user, 7, "retry_test")
    (h1, b1), (h2, b2) = proxy.posts()
    assert b1 == b2 and h1["Idempotency-Key"] == h2["Idempotency-Key"] == receipt.ids[0]


def test_retry_after_beyond_the_budget_gives_up_at_once(hub, proxy):
    proxy.plan.append(("503", 30))
    with client_for(proxy.url, retry=RetryPolicy(total=3)) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable) as err:
            client.notify_user(7, "retry_test")
    assert time.monotonic() - started < 2
    assert "503 ingest queue full" in str(err.value) and "retry_test" in str(err.value)
    assert len(proxy.posts()) == 1


def test_unreachable_hub_fails_within_the_bound():
    url = f"http://127.0.0.1:{harness.free_port()}/events"
    with client_for(url, retry=RetryPolicy(total=1.0)) as client:
        started = time.monotonic()
        with pytest.raises(Unavailable) as err:
            client.notify_user(7, "nobody_listens")
    assert time.monotonic() - started < 2.5
    assert err.value.attempts > 1 and "ConnectionRefusedError" in str(err.value)
    assert "nobody_listens" in str(err.value) and url in str(err.value)


async def test_wrong_token_is_refused_at_once(hub, proxy):
    bob = await harness.connect(hub.daemon, user=7)
    with Client.webhook(proxy.url, token="wrong") as client:
        with pytest.raises(AuthenticationFailed) as err:
            await in_thread(client.notify_user, 7, "secret_stuff")
    assert err.value.status == 401 and "bearer token" in str(err.value)
    assert err.value.events[0].startswith("secret_stuff ")
    assert len(proxy.posts()) == 1  # not retried
    with client_for(hub.url) as client:
        event, n = barrier_event(7)
        await in_thread(client.publish, event)
    await expect_barrier(bob, n)


async def test_hmac_signature(daemons):
    hub = daemons.webhook(auth="hmac")
    bob = await harness.connect(hub.daemon, user=7)
    with Client.webhook(hub.url, hmac_secret=webhook_harness.HMAC_SECRET) as client:
        await in_thread(client.notify_user, 7, "signed", message="signed body")
    assert (await receive(bob))["message"] == "signed body"
    with Client.webhook(hub.url, hmac_secret="not-the-key") as client:
        with pytest.raises(AuthenticationFailed, match="X-Herald-Signature"):
            client.notify_user(7, "signed")


def test_the_hubs_refusal_names_the_field_and_event(hub):
    with client_for(hub.url) as client:
        with pytest.raises(Refused) as err:
            client.publish({"event_type": "a", "users": [7], "timestamp": "yesterday"})
        assert err.value.status == 400 and "timestamp" in err.value.reason
        good = {"event_type": "a", "users": [7]}
        bad = {"event_type": "b", "users": [7], "timestamp": "yesterday", "id": "the-bad-one"}
        with pytest.raises(Refused) as err:
            client.publish_many([good, bad])
    assert err.value.index == 1 and "b the-bad-one (index 1 of 2)" in str(err.value)


def test_bad_events_raise_before_anything_is_sent(hub, proxy):
    with client_for(proxy.url) as client:
        cases = [
            ({"event_type": "Milestone Created", "users": [7]}, "event_type"),
            ({"event_type": "a"}, "needs a project or users"),
            ({"event_type": "a", "users": [7, 0]}, "users[1]"),
            ({"event_type": "a", "users": [True]}, "users[0]"),
            ({"event_type": "a", "project": {"title": "no id"}}, "project.id"),
            ({"event_type": "a", "users": [7], "data": [1]}, "data"),
            ({"event_type": "a", "users": [7], "title": 5}, "title"),
            ({"event_type": "a", "users": [7], "data": {"s": {1, 2}}}, "not JSON serializable"),
            ({"event_type": "a", "users": [7], "data": {"x": float("nan")}}, "JSON"),
            ({"event_type": "a", "users": [7], "id": "x" * 129}, "id"),
            ({"event_type": "a", "users": [7], "timestamp": datetime.datetime(2025, 1, 1)},
             "time zone"),
        ]
        for event, field in cases:
            with pytest.raises(InvalidEvent, match=field.replace("[", r"\[")):
                client.publish(event)
        with pytest.raises(InvalidEvent, match="actor.id"):
            client.notify_user(7, "a", actor_user=object())
        with pytest.raises(InvalidEvent, match="non-empty"):
            client.publish_many([])
    assert proxy.posts() == []


def test_retry_after_as_an_http_date(hub, proxy):
    import email.utils
    proxy.plan.append(("503", email.utils.formatdate(time.time() + 2, usegmt=True)))
    with client_for(proxy.url) as client:
        started = time.monotonic()
        receipt = client.notify_user(7, "retry_test")
    assert receipt.accepted == 1 and len(proxy.posts()) == 2
    assert 0.9 <= time.monotonic() - started < 4  # the date's second has 1 to 2 s left

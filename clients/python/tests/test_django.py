"""herald.django in a tiny Django project (tests/djproject), against a real herald: through the
webhook, then through the Redis stream. Its view runs the seed's call unchanged but for the
import; real WebSocket clients check what arrives."""

import decimal
import io
import json
import logging
import os
import uuid
from datetime import datetime, timezone

import pytest

import harness
import webhook_harness
from helpers import (HEX_ID, barrier_event, expect_barrier, in_thread, notification, receive,
                     same)


@pytest.fixture(scope="module")
def django_project(tmp_path_factory):
    """Django set up once: settings of tests/djproject, a SQLite file, users 5 and 7 and project
    2 as in API.md."""
    os.environ["HERALD_TEST_DB"] = str(tmp_path_factory.mktemp("django") / "db.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "djproject.settings"
    import django
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from djproject.tracker.models import Project
    call_command("migrate", run_syncdb=True, verbosity=0)
    User.objects.create(id=5, username="jane_smith", first_name="Jane", last_name="Smith")
    User.objects.create(id=7, username="bob", first_name="Bob", last_name="Brown")
    Project.objects.create(id=2, title="Mobile App Development")
    return django


@pytest.fixture(params=["webhook", "stream"])
def backend(request, django_project, redis_server, daemons):
    """(HERALD settings, herald daemon) for each transport."""
    if request.param == "webhook":
        hub = daemons.webhook()
        return {"URL": hub.url, "TOKEN": webhook_harness.TOKEN}, hub.daemon
    hub = daemons.stream(redis_server)
    hub.daemon.wait_for_log(r"\[redis\] connected")
    return {"TRANSPORT": "stream", "REDIS_URL": redis_server.url()}, hub.daemon


@pytest.fixture
def webhook_backend(django_project, hub):
    return {"URL": hub.url, "TOKEN": webhook_harness.TOKEN}, hub.daemon


def herald_settings(values):
    from django.test import override_settings
    return override_settings(HERALD=values)


def create_milestone(title, **form):
    """POST to the project's view as jane (user 5), as a browser would; returns the answer."""
    from django.contrib.auth.models import User
    from django.test import Client
    client = Client()
    client.force_login(User.objects.get(id=5))
    return client.post("/projects/2/milestones/", {"title": title, **form})


async def clients(daemon):
    """WebSockets of jane (5) and bob (7), both subscribed to project 2."""
    jane = await harness.connect(daemon, user=5)
    bob = await harness.connect(daemon, user=7)
    for ws in (jane, bob):
        await harness.subscribe(ws, 2)
    return jane, bob


async def barrier(ws, user):
    """Send a barrier to `user` through herald.django and expect it next on `ws`."""
    from herald.django import publish
    event, n = barrier_event(user)
    await in_thread(publish, event)
    await expect_barrier(ws, n)


SEED = notification("Milestone Created", "Milestone 'Sprint Planning' has been created",
                    {"progress": 0})


async def test_the_seeds_call_delivers_its_notification_but_not_to_the_actor(backend):
    values, daemon = backend
    jane, bob = await clients(daemon)
    with herald_settings(values):
        answer = await in_thread(create_milestone, "Sprint Planning")
        assert answer.status_code == 201
        same(await receive(bob), SEED)
        await barrier(jane, 5)  # exclude_user: jane, who made it, got nothing


async def test_a_rolled_back_transaction_sends_nothing(backend):
    from djproject.tracker.models import Milestone
    values, daemon = backend
    _, bob = await clients(daemon)
    with herald_settings(values):
        before = await in_thread(Milestone.objects.count)
        with pytest.raises(RuntimeError, match="rolled back on purpose"):
            await in_thread(create_milestone, "Never", fail="1")
        assert await in_thread(Milestone.objects.count) == before
        await barrier(bob, 7)


async def test_herald_check_passes(backend):
    from django.core.management import call_command
    values, _ = backend
    out = io.StringIO()
    with herald_settings(values):
        await in_thread(call_command, "herald_check", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.partition(":")[0] for line in lines] == [
        "ok  settings", "ok  reachable", "ok  credentials", "ok  round trip"], lines


async def test_a_503_then_success_delivers_once(webhook_backend, proxy):
    _, daemon = webhook_backend
    _, bob = await clients(daemon)
    proxy.plan.append(("503", 1))
    with herald_settings({"URL": proxy.url, "TOKEN": webhook_harness.TOKEN}):
        answer = await in_thread(create_milestone, "Sprint Planning")
        assert answer.status_code == 201
        (_, first), (_, second) = proxy.posts()
        assert first == second
        same(await receive(bob), SEED)
        await barrier(bob, 7)  # and only once


async def test_a_wrong_token_fails_the_check_and_is_logged_with_the_event_id(
        webhook_backend, proxy, caplog):
    from django.core.management import CommandError, call_command
    _, daemon = webhook_backend
    _, bob = await clients(daemon)
    with herald_settings({"URL": proxy.url, "TOKEN": "not-the-token"}):
        with pytest.raises(CommandError, match="401 missing or invalid bearer token"):
            await in_thread(call_command, "herald_check", stdout=io.StringIO())
        proxy.requests.clear()
        with caplog.at_level(logging.ERROR, logger="herald"):
            answer = await in_thread(create_milestone, "Sprint Planning")
        assert answer.status_code == 201  # the change was committed; the send failed after
    [(_, body)] = proxy.posts()  # refused at once, not retried
    event_id = json.loads(body)["id"]
    [record] = [r for r in caplog.records if r.name == "herald"]
    assert record.levelno == logging.ERROR
    assert record.herald_event_id == event_id and record.herald_event_type == "milestone_created"
    assert f"milestone_created {event_id}" in record.getMessage()
    assert "401" in record.getMessage()
    with herald_settings({"URL": proxy.url, "TOKEN": webhook_harness.TOKEN}):
        await barrier(bob, 7)


async def test_background_sending_and_flush(webhook_backend, caplog):
    import herald.django as hd
    values, daemon = webhook_backend
    jane, bob = await clients(daemon)
    with herald_settings({**values, "BACKGROUND": True}):
        answer = await in_thread(create_milestone, "Sprint Planning")
        assert answer.status_code == 201
        assert await in_thread(hd.flush, 10)
        same(await receive(bob), SEED)
        await barrier(jane, 5)
    with herald_settings({**values, "BACKGROUND": True, "TOKEN": "wrong"}):
        with caplog.at_level(logging.ERROR, logger="herald"):
            ids = await in_thread(hd.notify_user, 7, "lost_in_background")
            assert await in_thread(hd.flush, 10)
    [record] = [r for r in caplog.records if r.name == "herald"]
    assert record.herald_event_id == ids[0] and HEX_ID.match(ids[0])


async def test_djangos_values_and_lazy_text(webhook_backend):
    from django.utils.translation import gettext_lazy
    import herald.django as hd
    values, daemon = webhook_backend
    bob = await harness.connect(daemon, user=7)
    key = uuid.uuid4()
    with herald_settings(values):
        await in_thread(hd.notify_user, 7, "invoice_paid", title=gettext_lazy("Invoice paid"),
                        data={"at": datetime(2025, 10, 24, 14, 30, tzinfo=timezone.utc),
                              "amount": decimal.Decimal("19.90"), "key": key})
    msg = await receive(bob)
    assert msg["title"] == "Invoice paid"
    assert msg["data"] == {"at": "2025-10-24T14:30:00Z", "amount": "19.90", "key": str(key)}


async def test_without_on_commit_errors_reach_the_caller(webhook_backend):
    import herald.django as hd
    from herald import AuthenticationFailed, ConfigurationError, InvalidEvent
    values, _ = webhook_backend
    with herald_settings({**values, "ON_COMMIT": False, "TOKEN": "wrong"}):
        with pytest.raises(AuthenticationFailed, match="401"):
            await in_thread(hd.notify_user, 7, "now")
    with herald_settings({**values, "TOKN": "typo"}):
        with pytest.raises(ConfigurationError, match="unknown key TOKN"):
            await in_thread(hd.notify_user, 7, "now")
    with herald_settings(values):  # bad values fail at the call, before the commit
        with pytest.raises(InvalidEvent, match="not JSON serializable"):
            await in_thread(hd.notify_user, 7, "now", data={"s": {1}})

"""notification_limit: at most N notifications addressed to a user per window; the rest of the
window is never dropped but told in one digest notification (scripts/digest.lua) at its end,
in order, with a position of its own in the user's room, kept in the history, rebuilt from the
log after a restart, and the same on every node of a cluster."""

import asyncio
import shutil
import time
from urllib.parse import quote

from harness import (PROJECT, SCRIPTS_DIR, connect, http_get, make_token, milestone_event,
                     open_ws, recv_json, subscribe, ws_url)
from redis_harness import redis_server  # noqa: F401  (fixture)

WINDOW = 4  # seconds
LIMIT = {"notification_limit": {"per_user": 10, "window": WINDOW}}
# A window's digest comes at its end, plus a grace of 2 s, plus the 1 s sweep.
DIGEST_WAIT = WINDOW + 2 + 1 + 5


async def window_start(window=WINDOW):
    """Wait for the start of the next window (windows are fixed slices of the clock, the same
    for every user), so that what a test sends falls in one window."""
    now = time.time()
    if now % window > 0.2 * window:
        await asyncio.sleep(window - now % window + 0.05)


def direct(data_id, user=7, **extra):
    return milestone_event(data_id, users=[user], **extra)


def key(pos):
    ms, seq = pos.split(":")[1].split("-")
    return (int(ms), int(seq))


def check_digest(msg, count, project=PROJECT):
    assert msg["event_type"] == "digest", msg
    assert msg["room"] == "user_7"
    data = msg["data"]
    assert data["count"] == count
    assert data["event_types"] == {"milestone_updated": count}
    assert data["projects"] == [{"id": project["id"], "title": project["title"],
                                 "count": count}]
    assert msg["project_id"] == project["id"]
    assert msg["title"] == f"{count} more updates"
    assert msg["message"] == f"{count} more updates in '{project['title']}'"


async def test_thirty_in_a_window_give_ten_and_one_digest_of_twenty(start_herald):
    herald = start_herald(LIMIT)
    ws = await connect(herald, 7)
    other = await connect(herald, 8)
    await window_start()
    sent_at = time.monotonic()
    for i in range(1, 31):
        herald.send(direct(i))
    for i in range(1, 6):  # another user has a window of their own
        herald.send(direct(100 + i, user=8))
    got = [await recv_json(ws) for _ in range(10)]
    assert [m["data"]["id"] for m in got] == list(range(1, 11))
    assert [(await recv_json(other))["data"]["id"] for _ in range(5)] == list(range(101, 106))

    digest = await recv_json(ws, timeout=DIGEST_WAIT)
    assert time.monotonic() - sent_at >= 0.7 * WINDOW  # at the window's end, not before
    check_digest(digest, 20)
    positions = [key(m["pos"]) for m in got + [digest]]
    assert positions == sorted(positions) and len(set(positions)) == 11
    status, page = http_get(herald.port, "/metrics")
    assert status == 200
    assert "herald_notification_limit_held_total 20\n" in page
    assert "herald_notification_limit_digests_total 1\n" in page

    # A new window: delivered at once.
    herald.send(direct(31))
    after = await recv_json(ws)
    assert after["data"]["id"] == 31 and key(after["pos"]) > key(digest["pos"])

    # The history holds what the user got, digest included, in order.
    back = await resume(herald, got[4]["pos"])
    replay = [await recv_json(back) for _ in range(7)]
    assert [m.get("data", {}).get("id") for m in replay[:5]] == list(range(6, 11))
    assert replay[5] == digest
    assert replay[6] == after


async def test_project_rooms_are_not_limited(start_herald):
    herald = start_herald(LIMIT)
    ws = await connect(herald, 7)
    await subscribe(ws)
    for i in range(1, 31):
        herald.send(milestone_event(i))
    assert [(await recv_json(ws))["data"]["id"] for _ in range(30)] == list(range(1, 31))


async def ten_then_stop(herald, events, window):
    """User 7 gets `events` notifications in one window: the first 10 arrive, then herald
    stops. Returns the last position the user saw."""
    ws = await connect(herald, 7)
    await window_start(window)
    for i in range(1, events + 1):
        herald.send(direct(i))
    got = [await recv_json(ws) for _ in range(10)]
    assert herald.stop() == []
    return got[-1]["pos"]


async def resume(herald, since):
    return await open_ws(ws_url(herald.port, make_token(7)) + "&since=" + quote(since))


async def test_a_restart_inside_the_window_loses_nothing(start_herald):
    herald = start_herald({"notification_limit": {"per_user": 10, "window": 8}})
    last = await ten_then_stop(herald, 15, 8)
    herald.start()  # the same storage directory: the window is rebuilt from the log
    digest = await recv_json(await resume(herald, last), timeout=8 + 2 + 1 + 5)
    check_digest(digest, 5)
    assert key(digest["pos"]) > key(last)


async def test_the_limit_is_per_user_across_a_cluster(redis_server, start_herald):
    config = {"cluster": {"url": redis_server.url()}, **LIMIT}
    a, b = start_herald(config), start_herald(config)
    on_a, on_b = await connect(a, 7), await connect(b, 7)
    await window_start()
    for i in range(1, 8):  # 7 events through each node, for the same user
        a.send(direct(i))
        b.send(direct(100 + i))
    got = {}
    for name, ws in (("a", on_a), ("b", on_b)):
        got[name] = [await recv_json(ws) for _ in range(10)]
        got[name].append(await recv_json(ws, timeout=DIGEST_WAIT))
    # both nodes delivered the same 10, then the same digest of the other 4, same positions
    assert got["a"] == got["b"]
    assert all(m["event_type"] == "milestone_updated" for m in got["a"][:10])
    check_digest(got["a"][10], 4)


async def test_a_window_that_ends_while_stopped_gets_its_digest_at_start(start_herald):
    herald = start_herald({"notification_limit": {"per_user": 10, "window": 3}})
    last = await ten_then_stop(herald, 12, 3)
    await asyncio.sleep(3.5)  # the window ends while herald is stopped
    herald.start()  # the digest is given from what the log read back, before anyone connects
    check_digest(await recv_json(await resume(herald, last)), 2)


async def test_a_node_started_inside_a_window_counts_it_whole(redis_server, start_herald):
    config = {"cluster": {"url": redis_server.url()}, **LIMIT}
    a = start_herald(config)
    on_a = await connect(a, 7)
    await window_start()
    for i in range(1, 13):
        a.send(direct(i))
    got = [await recv_json(on_a) for _ in range(10)]
    # b reads no history (warm: 0) but the log back to the window's start, for the limit
    b = start_herald({**config, "cluster": {"url": redis_server.url(), "warm": 0}})
    on_b = await connect(b, 7)
    digest_a = await recv_json(on_a, timeout=DIGEST_WAIT)
    digest_b = await recv_json(on_b, timeout=DIGEST_WAIT)
    check_digest(digest_a, 2)
    assert digest_b == digest_a and key(digest_a["pos"]) > key(got[-1]["pos"])


async def test_a_failing_digest_script_still_gives_the_digest(start_herald, tmp_path):
    scripts = tmp_path / "scripts"
    shutil.copytree(SCRIPTS_DIR, scripts)
    (scripts / "digest.lua").write_text('return function(event) error("boom") end\n')
    herald = start_herald({**LIMIT, "scripts": {"dir": str(scripts)}})
    ws = await connect(herald, 7)
    await window_start()
    for i in range(1, 14):
        herald.send(direct(i))
    assert [(await recv_json(ws))["data"]["id"] for _ in range(10)] == list(range(1, 11))
    digest = await recv_json(ws, timeout=DIGEST_WAIT)
    assert digest["event_type"] == "digest" and digest["room"] == "user_7"
    assert (digest["title"], digest["message"]) == ("3 more notifications",) * 2
    assert digest["data"]["count"] == 3
    assert digest["data"]["window_end"] - digest["data"]["window_start"] == WINDOW * 1000
    herald.wait_for_log(r"digest for user 7: digest\.lua.*boom.*Herald's own wording")

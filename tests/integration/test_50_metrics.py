"""GET /metrics: Prometheus text whose counters move as events are ingested and delivered."""

import re

from harness import connect, expect_nothing_then, http_get, milestone_event, recv_json, subscribe


def scrape(herald):
    status, body = http_get(herald.port, "/metrics")[:2]
    assert status == 200
    text = body.decode() if isinstance(body, bytes) else body
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    # every series belongs to a family announced with HELP and TYPE
    for name in values:
        family = re.sub(r"(_bucket|_sum|_count)?(\{.*)?$", "", name)
        assert f"# TYPE {family} " in text or f"# TYPE {family.rsplit('_', 1)[0]} " in text, name
    return values


async def test_counters_move_with_traffic(herald):
    before = scrape(herald)
    assert before["herald_connections"] == 0
    a = await connect(herald, 7)
    b = await connect(herald, 8)
    await subscribe(a)
    await subscribe(b)
    herald.send(milestone_event(1))
    herald.send("not json")  # refused by the source
    herald.send(milestone_event(2, event_type="sprint_started"))
    for ws in (a, b):
        assert [(await recv_json(ws))["data"]["id"] for _ in range(2)] == [1, 2]
    await expect_nothing_then(a, herald.send_barrier(user=7))

    after = scrape(herald)
    assert after["herald_connections"] == 2
    assert after["herald_connections_total"] == 2
    assert after["herald_subscriptions"] == 2
    assert after['herald_rooms{kind="project"}'] >= 1
    assert after['herald_events_ingested_total{source="stdin"}'] == 3  # two, and the barrier
    assert after['herald_events_rejected_total{source="stdin",reason="invalid"}'] == 1
    assert after["herald_notifications_delivered_total"] == 5  # 2 events x 2, the barrier
    assert after["herald_delivery_latency_seconds_count"] == 5
    assert after['herald_delivery_latency_seconds_bucket{le="+Inf"}'] == 5
    assert after["herald_ingest_queue_depth"] == 0


async def test_refusals_and_lua_failures_are_counted(start_herald, tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "loop_event.lua").write_text("return function() while true do end end\n")
    (scripts / "bad_event.lua").write_text("return function() error('boom') end\n")
    (scripts / "default.lua").write_text(
        "return function(e) return {title = 't', message = 'm'} end\n")
    herald = start_herald({"scripts": {"dir": str(scripts), "instructions": 100000}})
    ws = await connect(herald, 7)
    herald.send({"event_type": "loop_event", "users": [7]})
    herald.send({"event_type": "bad_event", "users": [7]})
    herald.send({"event_type": "bad_event", "users": [7]})
    herald.send({"event_type": "fine", "users": [7], "data": {"id": 5}})
    assert (await recv_json(ws))["event_type"] == "fine"
    assert http_get(herald.port, "/ws/notifications/?token=nope")[0] in (403, 426)

    m = scrape(herald)
    assert m['herald_lua_budget_overruns_total{script="loop_event.lua",budget="instructions"}'] == 1
    assert m['herald_lua_errors_total{script="bad_event.lua"}'] == 2
    assert m["herald_events_dropped_total"] == 3

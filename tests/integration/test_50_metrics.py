"""GET /metrics: text that the Prometheus and OpenMetrics parsers accept, whose counters move as
events are ingested and delivered; the process, build, log and reload series."""

import os
import re
import signal
import time

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as prometheus_text

from harness import (connect, expect_nothing_then, http_get, milestone_event, recv_json,
                     run_herald, subscribe)


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
    # every series belongs to a family announced with HELP and TYPE (a counter's family is
    # named without its _total, the OpenMetrics way)
    for name in values:
        family = re.sub(r"(_bucket|_sum|_count|_total)?(\{.*)?$", "", name)
        assert f"# TYPE {family} " in text, name
    return values


def scrape_text(herald):
    status, body = http_get(herald.port, "/metrics")[:2]
    assert status == 200
    return body.decode() if isinstance(body, bytes) else body


async def test_counters_move_with_traffic(herald):
    before = scrape(herald)
    assert before["herald_connections_open"] == 0
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
    assert after["herald_connections_open"] == 2
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


def test_both_parsers_accept_the_page_with_its_types(herald):
    text = scrape_text(herald)
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in openmetrics(text)}  # raises on any clash or malformed line
    assert families["herald_connections"].type == "counter"
    assert families["herald_connections_open"].type == "gauge"
    assert families["herald_delivery_latency_seconds"].type == "histogram"
    assert families["herald_events_ingested"].type == "counter"
    assert families["process_cpu_seconds"].type == "counter"
    # the Prometheus text parser too (it reads the counters' samples as untyped series)
    names = {s.name for f in prometheus_text(text) for s in f.samples}
    assert {"herald_connections_open", "herald_connections_total", "process_open_fds"} <= names


def test_build_process_log_and_reload_series(herald):
    m = scrape(herald)
    version = run_herald(["--version"]).stdout.split()[1]
    assert m[f'herald_build_info{{version="{version}"}}'] == 1
    up = {k: v for k, v in m.items() if k.startswith("herald_log_up{")}
    assert list(up.values()) == [1], up  # the one log, whichever kind the defaults choose
    # what /proc/self says of the process
    with open(f"/proc/{herald.proc.pid}/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    assert 0.5 * rss < m["process_resident_memory_bytes"] < 2 * rss
    fds = len(os.listdir(f"/proc/{herald.proc.pid}/fd"))
    assert abs(m["process_open_fds"] - fds) <= 2
    assert m["process_max_fds"] >= fds
    assert m["process_cpu_seconds_total"] >= 0
    assert abs(m["process_start_time_seconds"] - time.time()) < 120
    assert m["herald_reload_last_success"] == 1
    assert m["herald_reload_last_timestamp_seconds"] == 0


def test_reload_result_and_time(start_herald, tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "default.lua").write_text("return function(e) return {title='t', message='m'} end\n")
    herald = start_herald({"scripts": {"dir": str(scripts)}})
    (scripts / "broken.lua").write_text("return function(e\n")
    before = time.time()
    herald.proc.send_signal(signal.SIGHUP)
    herald.wait_for_log("script reload failed")
    m = scrape(herald)
    assert m["herald_reload_last_success"] == 0
    assert before - 1 <= m["herald_reload_last_timestamp_seconds"] <= time.time() + 1
    (scripts / "broken.lua").unlink()
    herald.proc.send_signal(signal.SIGHUP)
    herald.wait_for_log("scripts reloaded from")
    assert scrape(herald)["herald_reload_last_success"] == 1

"""The redis source in pub/sub mode, against a real redis-server: events published with
redis-cli reach subscribed clients, on channels and on patterns; invalid ones are logged and
skipped. Also the plugin's refusals of bad options, in either mode."""

import urllib.parse

import pytest

from harness import (PROJECT, connect, recv_json, run_herald, sanitizer_reports, subscribe,
                     write_config)
from redis_harness import event_json, redis_config, redis_server  # noqa: F401 (fixture)

CONNECTED = r"\[redis\] connected to redis://127\.0\.0\.1:\d+/0: (\d+) channels, (\d+) patterns"


async def test_published_event_reaches_a_subscribed_client(redis_server, start_herald):
    herald = start_herald(redis_config(redis_server, mode="pubsub"))
    # With neither channels nor patterns configured, the channel is herald:events.
    assert herald.wait_for_log(CONNECTED).groups() == ("1", "0")
    ws = await connect(herald)
    await subscribe(ws)

    receivers = redis_server.cli("PUBLISH", "herald:events", event_json(42, title="From Redis"))
    assert receivers == "1", f"herald is not subscribed to herald:events: PUBLISH said {receivers}"
    msg = await recv_json(ws)
    assert msg["type"] == "notification_received"
    assert msg["event_type"] == "milestone_updated"
    assert msg["project_id"] == PROJECT["id"]
    assert msg["data"]["id"] == 42 and msg["data"]["title"] == "From Redis"


async def test_channels_and_patterns(redis_server, start_herald):
    herald = start_herald(redis_config(redis_server, mode="pubsub", channels=["app:a", "app:b"],
                                       patterns=["tenant:*:events"]))
    assert herald.wait_for_log(CONNECTED).groups() == ("2", "1")
    ws = await connect(herald)
    await subscribe(ws)

    for n, channel in enumerate(["app:a", "app:b", "tenant:7:events", "tenant:8:events"], 1):
        assert redis_server.cli("PUBLISH", channel, event_json(n)) == "1", channel
    # Configured channels replace the default one.
    assert redis_server.cli("PUBLISH", "herald:events", event_json(99)) == "0"
    assert [(await recv_json(ws))["data"]["id"] for _ in range(4)] == [1, 2, 3, 4]


async def test_invalid_events_are_logged_and_skipped(redis_server, start_herald):
    herald = start_herald(redis_config(redis_server, mode="pubsub"))
    herald.wait_for_log(CONNECTED)
    ws = await connect(herald)
    await subscribe(ws)

    redis_server.cli("PUBLISH", "herald:events", "this is not json {")
    redis_server.cli("PUBLISH", "herald:events",
                     event_json(2, project={"id": "x", "title": "Bad"}))
    redis_server.cli("PUBLISH", "herald:events", event_json(3))

    # Messages are handled in order, so the valid one coming first shows the others were
    # dropped, not delayed.
    assert (await recv_json(ws))["data"]["id"] == 3
    herald.wait_for_log(r"\[redis\] message on channel herald:events refused: event: invalid JSON")
    herald.wait_for_log(r"\[redis\] message on channel herald:events refused: project\.id: ")
    assert herald.running()


async def test_url_with_a_user_and_an_escaped_password(redis_server, start_herald):
    password = "p@ss:word/with%odd chars"
    redis_server.client().execute_command("ACL", "SETUSER", "herald", "on", f">{password}",
                                          "&*", "+@all")
    # No database in the path, and a host name rather than an address.
    url = f"redis://herald:{urllib.parse.quote(password, safe='')}@localhost:{redis_server.port}"
    herald = start_herald(redis_config(redis_server, mode="pubsub", url=url))
    herald.wait_for_log(rf"\[redis\] connected to redis://localhost:{redis_server.port}/0: ")
    assert password not in herald.log() and "p%40ss" not in herald.log()
    clients = redis_server.client().client_list()
    assert [c["user"] for c in clients if c["cmd"] == "subscribe"] == ["herald"]
    ws = await connect(herald)
    await subscribe(ws)
    assert redis_server.cli("PUBLISH", "herald:events", event_json(5)) == "1"
    assert (await recv_json(ws))["data"]["id"] == 5


BAD_OPTIONS = {
    "scheme": ({"url": "http://127.0.0.1:6379"}, "url", "must start with redis:// or unix://"),
    "tls": ({"url": "rediss://127.0.0.1:6379/0"}, "url", "TLS"),
    "port": ({"url": "redis://127.0.0.1:65536/0"}, "url", "port"),
    "db": ({"url": "redis://127.0.0.1:6379/zero"}, "url", "database number"),
    "unix": ({"url": "unix://relative.sock"}, "url", "absolute path"),
    "escape": ({"url": "redis://:bad%zz@127.0.0.1/0"}, "url", "%-escape"),
    "user_without_password": ({"url": "redis://herald@127.0.0.1/0"}, "password", "user"),
    "mode": ({"mode": "kafka"}, "mode", "must be stream or pubsub"),
    "nothing_to_subscribe": ({"mode": "pubsub", "channels": []}, "channels", "pubsub needs"),
    "dead_letter": ({"dead_letter": "herald:events"}, "dead_letter", "other than `stream`"),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_bad_options_are_refused_at_start(tmp_path, case):
    options, option, words = BAD_OPTIONS[case]
    config = write_config(tmp_path / "herald.yaml",
                          {"plugins": [{"name": "redis", "options": options}]})
    result = run_herald(["-c", str(config)], timeout=10)
    assert result.returncode > 0, result.stderr
    assert not sanitizer_reports(result.stderr), result.stderr
    line = next((ln for ln in result.stderr.splitlines() if f"option `{option}`:" in ln), "")
    assert "[redis]" in line and words in line, result.stderr

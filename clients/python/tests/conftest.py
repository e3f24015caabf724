"""Fixtures of the herald package's tests: real herald daemons (built in $HERALD_BUILD_DIR) with
the webhook or the redis source on free loopback ports, a real redis-server, and the async test
runner. The daemon, its config, tokens and WebSocket helpers come from tests/integration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("HERALD_SOURCE_DIR", Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(SOURCE_DIR / "tests" / "integration"))
sys.path.insert(0, str(SOURCE_DIR / "clients" / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import redis_harness  # noqa: E402
import webhook_harness  # noqa: E402
from redis_harness import redis_server  # noqa: E402,F401  (a fixture)

TEST_TIMEOUT = 120


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests in a fresh event loop; close their WebSocket clients after."""
    return harness.run_async_test(pyfuncitem, TEST_TIMEOUT)


class Hub:
    """A herald daemon and how to publish to it."""

    def __init__(self, daemon: harness.Herald, webhook_port: int = 0, env: dict = None):
        self.daemon = daemon
        self.webhook_port = webhook_port
        self.env = env or {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}/events"

    def log(self) -> str:
        return self.daemon.log()


class Daemons:
    """Starts herald daemons; stop_all() stops each by pid and fails on a bad exit."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.started = []

    def start(self, config, env=None) -> harness.Herald:
        daemon = harness.Herald(self.tmp.mktemp("herald"), config, env)
        self.started.append(daemon)
        return daemon.start()

    def webhook(self, auth="bearer") -> Hub:
        config, env, port = webhook_harness.webhook_config(auth=auth)
        return Hub(self.start(config, env), port, env)

    def stream(self, server, **options) -> Hub:
        return Hub(self.start(redis_harness.redis_config(server, **options)))

    def stop_all(self):
        problems = []
        for daemon in self.started:
            problems += [f"{daemon}: {p}" for p in daemon.stop()]
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item):
    """Attach the logs of the test's daemons to its failure report."""
    report = (yield).get_result()
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            for daemon in getattr(value, "started", []):
                report.sections.append((f"herald log ({daemon.log_path})", daemon.log()))


@pytest.fixture
def daemons(tmp_path_factory):
    factory = Daemons(tmp_path_factory)
    yield factory
    factory.stop_all()


@pytest.fixture
def hub(daemons) -> Hub:
    """A herald whose source is the webhook, with a bearer token."""
    return daemons.webhook()


@pytest.fixture
def stream_hub(redis_server, daemons) -> Hub:
    """A herald reading the stream herald:events of this test's redis-server."""
    hub = daemons.stream(redis_server)
    hub.redis = redis_server
    hub.daemon.wait_for_log(r"\[redis\] connected")
    return hub


@pytest.fixture
def proxy(hub):
    """A proxy in front of `hub`'s webhook (tests/proxy.py), stopped after the test."""
    from proxy import Proxy
    p = Proxy(hub.webhook_port).start()
    yield p
    p.stop()

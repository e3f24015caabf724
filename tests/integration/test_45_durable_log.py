"""The embedded log on disk (storage): a restart of Herald, killed or stopped, loses nothing a
source was acknowledged for, and every client resumes with nothing missed and nothing twice; a
damaged log is cut at start, never served; a log that cannot be written pauses intake.

A steady stream of numbered events goes through the webhook (10 a request, each with an
idempotency id, a request sent again until it gets its 202, as a back end does) to three
subscribers, which keep one position per room and resume from them.
"""

import asyncio
import http.client
import os
import re
import signal
import subprocess
import threading
import time
from urllib.parse import quote

import pytest

import harness
from harness import milestone_event, open_ws, recv_json, send_json, ws_url
from webhook_harness import post, webhook_config

N_EVENTS = 1500
PER_REQUEST = 10
SUBSCRIBERS = {"a": (7, [2]), "b": (8, [2, 3]), "c": (9, [3])}  # user, projects


def rooms_of(n):
    """Where event n goes: a rotation of project 2, users 7 and 8, project 3."""
    kind = n % 3
    if kind == 0:
        return ["project_2"]
    if kind == 1:
        return ["user_7", "user_8"]
    return ["project_3"]


def event(n):
    if n % 3 == 0:
        return milestone_event(n, project={"id": 2, "title": "Two"}, id=f"ev-{n}")
    if n % 3 == 1:
        return milestone_event(n, users=[7, 8], id=f"ev-{n}")
    return milestone_event(n, project={"id": 3, "title": "Three"}, id=f"ev-{n}")


def storage_config(tmp_path, **storage):
    config, env, port = webhook_config(core={"history": {"size": 5000, "ttl": 600}})
    config["storage"] = {"dir": str(tmp_path / "log"), **storage}
    return config, env, port


class Publisher(threading.Thread):
    """Sends events 0 .. n-1 in order, PER_REQUEST a request, each request again until 202."""

    def __init__(self, port, n=N_EVENTS, pause=0.01):
        super().__init__(daemon=True)
        self.port, self.n, self.pause = port, n, pause
        self.acked = 0  # events answered 202
        self.stop = False

    def run(self):
        for first in range(0, self.n, PER_REQUEST):
            batch = [event(i) for i in range(first, min(first + PER_REQUEST, self.n))]
            while not self.stop:
                try:
                    if post(self.port, batch).status == 202:
                        break
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)
            if self.stop:
                return
            self.acked = first + len(batch)
            time.sleep(self.pause)


class Subscriber:
    """One client: its rooms' notifications in the order received, and one position per
    room; reconnects and resumes from those positions whenever its connection ends."""

    def __init__(self, herald, user, projects):
        self.herald, self.user, self.projects = herald, user, projects
        self.got = {}  # room -> [(data id, pos)]
        self.pos = {}  # room -> last position
        self.reconnects = 0

    def expected(self, n):
        mine = {f"user_{self.user}"} | {f"project_{p}" for p in self.projects}
        out = {}
        for i in range(n):
            for room in rooms_of(i):
                if room in mine:
                    out.setdefault(room, []).append(i)
        return out

    def complete(self, n):
        want = self.expected(n)
        return all(len(self.got.get(room, [])) >= len(ids) for room, ids in want.items())

    async def session(self, n, ready):
        url = ws_url(self.herald.port, harness.make_token(self.user))
        user_room = f"user_{self.user}"
        if user_room in self.pos:
            url += "&since=" + quote(self.pos[user_room])
        ws = await open_ws(url)
        for p in self.projects:
            msg = {"type": "subscribe_project", "project_id": p}
            if f"project_{p}" in self.pos:
                msg["since"] = self.pos[f"project_{p}"]
            await send_json(ws, msg)
        ready.set()
        while not self.complete(n):
            msg = await recv_json(ws, timeout=30)
            assert msg.get("type") == "notification_received", f"user {self.user}: {msg}"
            self.got.setdefault(msg["room"], []).append((msg["data"]["id"], msg["pos"]))
            self.pos[msg["room"]] = msg["pos"]

    async def run(self, n, deadline, ready):
        while not self.complete(n):
            assert time.monotonic() < deadline, f"user {self.user}: not complete in time"
            try:
                await self.session(n, ready)
            except AssertionError:
                raise
            except Exception:  # the connection ended or was refused (the daemon is away)
                self.reconnects += 1
                await asyncio.sleep(0.05)

    def check(self, n):
        """Exactly the events of each room, once each, in order, positions increasing."""
        for room, ids in self.expected(n).items():
            got = [i for i, _ in self.got.get(room, [])]
            missed = sorted(set(ids) - set(got))
            twice = sorted(i for i in set(got) if got.count(i) > 1)
            assert not missed and not twice and got == ids, (
                f"user {self.user} {room}: {len(missed)} missed {missed[:10]}, "
                f"{len(twice)} twice {twice[:10]}, {len(got)} received")
            positions = [tuple(map(int, p.split(":")[1].split("-")))
                         for _, p in self.got[room]]
            assert positions == sorted(set(positions)), f"{room}: positions not increasing"


async def stream_through_a_restart(herald, webhook_port, stop):
    """Publish N_EVENTS while three clients listen; a third of the way, `stop(herald)` and
    start it again at once. Returns the subscribers and the publisher."""
    subs = [Subscriber(herald, u, ps) for u, ps in SUBSCRIBERS.values()]
    deadline = time.monotonic() + 90
    readies = [asyncio.Event() for _ in subs]
    tasks = [asyncio.create_task(s.run(N_EVENTS, deadline, r)) for s, r in zip(subs, readies)]
    for r in readies:
        await asyncio.wait_for(r.wait(), 10)
    await asyncio.sleep(0.3)  # their subscriptions are in
    pub = Publisher(webhook_port)
    pub.start()
    while pub.acked < N_EVENTS // 3:
        await asyncio.sleep(0.01)
        assert pub.is_alive(), "the publisher ended early"
    acked_before = pub.acked
    await asyncio.to_thread(stop, herald)
    await asyncio.to_thread(herald.start)
    await asyncio.to_thread(pub.join, 90)
    pub.stop = True
    assert pub.acked == N_EVENTS, f"{pub.acked} of {N_EVENTS} events acknowledged"
    await asyncio.wait_for(asyncio.gather(*tasks), 100)
    return subs, pub, acked_before


def kill9(herald):
    os.kill(herald.proc.pid, signal.SIGKILL)
    herald.proc.wait()


def sigterm(herald):
    herald.terminate()
    assert herald.wait() == 0


@pytest.mark.parametrize("stop,sync", [(kill9, "os"), (sigterm, "os"), (kill9, "always")],
                         ids=["kill-9", "sigterm", "kill-9-always"])
async def test_a_restart_loses_nothing_and_repeats_nothing(start_herald, tmp_path, stop, sync):
    config, env, port = storage_config(tmp_path, sync=sync)
    herald = start_herald(config, env)
    epoch = None
    subs, pub, acked_before = await stream_through_a_restart(herald, port, stop)
    for s in subs:
        s.check(N_EVENTS)
        assert s.reconnects >= 1, "the clients did not see the restart"
        epochs = {p.split(":")[0] for got in s.got.values() for _, p in got}
        assert len(epochs) == 1, f"the epoch changed: {epochs}"
        epoch = epoch or epochs.pop()
    assert acked_before < N_EVENTS, "the restart was not during the stream"
    assert re.search(r"storage: .* records read back", herald.log())


async def test_without_storage_the_restart_is_a_reset(start_herald, tmp_path):
    """The same run with `storage: memory`: what the durable log is for."""
    config, env, port = webhook_config(core={"history": {"size": 5000}})
    config["storage"] = "memory"
    herald = start_herald(config, env)
    ws = await open_ws(ws_url(herald.port, harness.make_token(7)))
    assert post(port, [event(1)]).status == 202
    first = await recv_json(ws)
    kill9(herald)
    herald.start()
    back = await open_ws(ws_url(herald.port, harness.make_token(7)) + "&since="
                         + quote(first["pos"]))
    assert await recv_json(back) == {"type": "resume_failed", "room": "user_7",
                                     "reason": "reset"}


# ---------------------------------------------------------------------- a damaged log


def segments(tmp_path):
    return sorted((tmp_path / "log").glob("*.log"))


async def publish_and_stop(herald, port, n):
    """Events 0 .. n-1 to user 7 (one a request), received by a client; then SIGTERM.
    Returns the notifications."""
    ws = await open_ws(ws_url(herald.port, harness.make_token(7)))
    for i in range(n):
        assert post(port, [milestone_event(i, users=[7], id=f"d-{i}")]).status == 202
    got = [await recv_json(ws) for _ in range(n)]
    assert [m["data"]["id"] for m in got] == list(range(n))
    sigterm(herald)
    return got


async def resume_all(herald, since):
    """What a client of user 7 resuming from `since` receives until a barrier event."""
    ws = await open_ws(ws_url(herald.port, harness.make_token(7)) + "&since=" + quote(since))
    return ws


async def drain_until(ws, data_id):
    out = []
    while True:
        msg = await recv_json(ws)
        out.append(msg)
        if msg.get("data", {}).get("id") == data_id:
            return out


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
async def test_a_damaged_tail_is_cut_and_never_served(start_herald, tmp_path, damage):
    config, env, port = storage_config(tmp_path)
    herald = start_herald(config, env)
    got = await publish_and_stop(herald, port, 10)
    seg = segments(tmp_path)[-1]
    data = bytearray(seg.read_bytes())
    last_len = len(data) - data.rfind(b'{"type"')  # the last notification's JSON, and more
    if damage == "truncated":
        data = data[:-(last_len // 2)]  # the last record ends halfway: a torn write
        keep = 9
    else:
        # a byte inside the 8th record's JSON: that record and those after it are cut
        at = [m.start() for m in re.finditer(rb'\{"type"', bytes(data))][7] + 20
        data[at] ^= 0x20
        keep = 7
    seg.write_bytes(bytes(data))
    herald.start()
    assert re.search(r"warn .*storage: .*torn or corrupt record at byte \d+, \d+ bytes cut",
                     herald.log()), herald.log()
    ws = await resume_all(herald, got[0]["pos"])
    assert post(port, [milestone_event(100, users=[7], id="d-100")]).status == 202
    received = await drain_until(ws, 100)
    ids = [m["data"]["id"] for m in received]
    assert ids == list(range(1, keep)) + [100], ids
    for m, orig in zip(received, got[1:keep]):
        assert m == orig, "a record came back different"
    # the new notification comes after every position given out before
    assert harness.POSITION.match(received[-1]["pos"])
    last_before = tuple(map(int, got[-1]["pos"].split(":")[1].split("-")))
    assert tuple(map(int, received[-1]["pos"].split(":")[1].split("-"))) > last_before
    assert received[-1]["pos"].split(":")[0] == got[0]["pos"].split(":")[0]


# ---------------------------------------------------------------------- an unwritable log


def chattr(flag, *paths):
    return subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, text=True)


def metric(herald, name):
    status, body = harness.http_get(herald.port, "/metrics")
    assert status == 200
    found = re.search(rf"^{re.escape(name)} (\d+)$", body, re.M)
    return int(found.group(1)) if found else None


async def test_an_unwritable_log_pauses_intake_until_it_is_writable(start_herald, tmp_path):
    config, env, port = storage_config(tmp_path)
    config["plugins"][0]["options"]["ack_timeout_ms"] = 60000
    herald = start_herald(config, env)
    ws = await open_ws(ws_url(herald.port, harness.make_token(7)))
    assert post(port, [milestone_event(1, users=[7], id="w-1")]).status == 202
    assert (await recv_json(ws))["data"]["id"] == 1
    log_dir = tmp_path / "log"
    paths = [log_dir, *log_dir.iterdir()]
    # Root ignores file modes: the immutable flag is what root cannot write through either.
    if chattr("+i", *paths).returncode != 0:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        # This request's events reach the log's batch, whose write fails: it waits.
        waiting = asyncio.create_task(asyncio.to_thread(
            post, port, [milestone_event(2, users=[7], id="w-2")]))
        deadline = time.monotonic() + 10
        while harness.http_get(herald.port, "/healthz")[0] != 200 or \
                '"degraded"' not in harness.http_get(herald.port, "/healthz")[1]:
            assert time.monotonic() < deadline, "/healthz never said degraded"
            await asyncio.sleep(0.05)
        refused = post(port, [milestone_event(3, users=[7], id="w-3")])
        assert refused.status == 503 and "retry-after" in refused.headers, refused
        assert metric(herald, "herald_storage_write_errors_total") >= 1
        assert metric(herald, 'herald_log_up{log="disk"}') == 0
        assert not waiting.done()
        await harness.expect_silence(ws, 0.5)  # nothing unlogged is delivered
    finally:
        chattr("-i", *paths)
    answer = await asyncio.wait_for(waiting, 30)
    assert answer.status == 202, answer
    assert (await recv_json(ws))["data"]["id"] == 2
    deadline = time.monotonic() + 10  # intake opens again at the hub's next check (<= 1 s)
    while '"ok"' not in harness.http_get(herald.port, "/healthz")[1]:
        assert time.monotonic() < deadline, "/healthz stayed degraded"
        await asyncio.sleep(0.05)
    assert post(port, [milestone_event(3, users=[7], id="w-3")]).status == 202
    assert (await recv_json(ws))["data"]["id"] == 3
    assert metric(herald, 'herald_log_up{log="disk"}') == 1
    assert re.search(r"storage: .* is writable again", herald.log())
    assert metric(herald, "herald_storage_bytes") > 0


async def test_a_log_unwritable_at_start_is_served_and_refuses_events(start_herald, tmp_path):
    config, env, port = storage_config(tmp_path)
    herald = start_herald(config, env)
    got = await publish_and_stop(herald, port, 3)
    log_dir = tmp_path / "log"
    paths = [log_dir, *log_dir.iterdir()]
    if chattr("+i", *paths).returncode != 0:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        herald.start()
        herald.wait_for_log(r"error .*storage: cannot write to .*refusing events")
        # The history is read and served all the same.
        ws = await resume_all(herald, got[0]["pos"])
        assert [await recv_json(ws) for _ in range(2)] == got[1:]
        deadline = time.monotonic() + 10  # the hub checks its log at least once a second
        while '"degraded"' not in harness.http_get(herald.port, "/healthz")[1]:
            assert time.monotonic() < deadline, "/healthz never said degraded"
            await asyncio.sleep(0.05)
        answer = post(port, [milestone_event(3, users=[7], id="d-3")])
        assert answer.status == 503 and "retry-after" in answer.headers, answer
        assert metric(herald, 'herald_log_up{log="disk"}') == 0
    finally:
        chattr("-i", *paths)
    while post(port, [milestone_event(3, users=[7], id="d-3")]).status != 202:
        assert time.monotonic() < deadline, "still refused once writable"
        await asyncio.sleep(0.1)
    assert (await recv_json(ws))["data"]["id"] == 3


async def test_a_full_disk_pauses_intake_until_there_is_room(start_herald, tmp_path):
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(log_dir)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mount.stderr.strip()}")
    try:
        config, env, port = storage_config(tmp_path)
        config["plugins"][0]["options"]["ack_timeout_ms"] = 60000
        herald = start_herald(config, env)
        ws = await open_ws(ws_url(herald.port, harness.make_token(7)))
        sent, waiting = 0, None
        while waiting is None:  # 256 KiB hold about 500 notifications
            batch = [milestone_event(sent + i, users=[7], id=f"f-{sent + i}") for i in range(50)]
            task = asyncio.create_task(asyncio.to_thread(post, port, batch))
            done, _ = await asyncio.wait({task}, timeout=3)
            if not done:  # its batch met the full disk: it waits for room
                waiting = task
                break
            assert task.result().status == 202, task.result()
            sent += 50
            assert sent < 5000, "the disk never filled"
        herald.wait_for_log(r"storage: cannot write to .*No space left on device")
        deadline = time.monotonic() + 10
        while '"degraded"' not in harness.http_get(herald.port, "/healthz")[1]:
            assert time.monotonic() < deadline, "/healthz never said degraded"
            await asyncio.sleep(0.05)
        refused = post(port, [milestone_event(9999, users=[7], id="f-9999")])
        assert refused.status == 503 and "retry-after" in refused.headers, refused
        assert metric(herald, "herald_storage_write_errors_total") >= 1
        got = [(await recv_json(ws))["data"]["id"] for _ in range(sent)]
        assert got == list(range(sent))  # what was taken is served
        await harness.expect_silence(ws, 0.3)
        subprocess.run(["mount", "-o", "remount,size=8m", str(log_dir)], check=True)
        assert (await asyncio.wait_for(waiting, 20)).status == 202
        deadline = time.monotonic() + 10
        while post(port, [milestone_event(9999, users=[7], id="f-9999")]).status != 202:
            assert time.monotonic() < deadline, "still refused with room on the disk"
            await asyncio.sleep(0.1)
        # the batch that waited for room, then the new event; nothing twice
        rest = [(await recv_json(ws))["data"]["id"] for _ in range(51)]
        assert rest == list(range(sent, sent + 50)) + [9999], rest
        herald.stop()
    finally:
        subprocess.run(["umount", "-l", str(log_dir)], capture_output=True)


async def test_no_storage_section_and_no_room_for_its_default_runs_in_memory(start_herald,
                                                                             tmp_path):
    """A config of an earlier version, in a directory Herald cannot write (as /etc is under
    the unit's ProtectSystem=strict): it runs as before, in memory, and says so."""
    config, env, port = webhook_config()
    (tmp_path / "etc").mkdir()
    herald = harness.Herald(tmp_path / "etc", config, env)  # no storage section
    start_herald.started.append(herald)
    herald.log_path.touch()
    if chattr("+i", herald.workdir).returncode != 0:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        herald.start()
        herald.wait_for_log(r"warn .*storage: cannot create .*herald-data.*no storage section, "
                            r"so notifications are kept in memory only")
        assert metric(herald, 'herald_log_up{log="memory"}') == 1
        ws = await open_ws(ws_url(herald.port, harness.make_token(7)))
        assert post(port, [milestone_event(1, users=[7])]).status == 202
        assert (await recv_json(ws))["data"]["id"] == 1
    finally:
        chattr("-i", herald.workdir)

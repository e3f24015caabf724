"""The Lua sandbox against hostile or broken formatters, and SIGHUP reloads.

Each bad script costs exactly its own notification: the subscribed client gets the good events
sent around it, in order, and nothing in between (the next good event is the barrier); the log
names the script and the reason; the whole run stays fast because an endless loop costs at most
the instruction budget; what a script tried to do to the machine did not happen.

Library functions that loop in C, where the instruction count does not advance, are charged
the elements they visit or refuse long ranges; a call that still runs too long (slow C work
between few instructions) is stopped by the wall-clock watchdog. Neither a formatter nor
authorize.lua can then keep the loop thread: /healthz answers, later notifications arrive and
SIGTERM stops the hub.
"""

import os
import re
import shutil
import signal
import time

from harness import (ACTOR, PROJECT, SCRIPTS_DIR, connect, expect_error, http_get,
                     milestone_event, recv_json, send_json, subscribe)
from hard_harness import (Bystanders, assert_healthy, log_count, open_connections, scripts_dir,
                          wait_until)

INSTRUCTIONS = 100000
MEMORY = 8 * 1024 * 1024

# A table whose __index is a C function: table.concat as its own __index returns "" for every
# element, so concatenating it loops in C with no VM instruction and no allocation.
SELF_CONCAT = 'table.concat(setmetatable({}, {__index = table.concat}), "", 1, math.maxinteger)'
# __len, __index and __newindex that cost nothing in Lua and next to nothing in C.
C_META = ("setmetatable({{}}, {{__len = function() return {} end, __index = rawlen, "
          "__newindex = rawlen}})")
# 256 KiB upper-cased again and again: a few instructions per turn, each spending ~0.3 ms in C,
# so the instruction budget would take many seconds to run out.
SLOW_LOOP = """
  local s = string.rep("x", 8192)
  for i = 1, 5 do s = s .. s end
  while true do local u = s:upper() end
"""

# event type: (its script, a pattern the log line naming NAME.lua must match after it)
BAD_SCRIPTS = {
    "loop_event": ("""
return function(event)
  while true do end
end
""", r"instruction"),
    "pcall_loop_event": ("""
-- pcall must not be able to swallow the budget error and carry on
return function(event)
  while true do pcall(function() while true do end end) end
end
""", r"instruction"),
    "alloc_event": ("""
return function(event)
  local t, i = {}, 0
  while true do
    i = i + 1
    t[i] = string.rep("x", 8000) .. i
  end
end
""", r"memory"),
    "exec_event": ("""
return function(event)
  os.execute("touch " .. event.data.path)
  return {title = "escaped", message = "os.execute ran", data = {}}
end
""", r"\bos\b"),
    "require_event": ("""
return function(event)
  local os_lib = require("os")
  os_lib.execute("touch " .. event.data.path)
  return {title = "escaped", message = "require('os') worked", data = {}}
end
""", r"\bos\b"),
    "io_event": ("""
return function(event)
  local f = io.open(event.data.path, "w")
  f:write("escaped")
  f:close()
  return {title = "escaped", message = "io.open ran", data = {}}
end
""", r"\bio\b"),
    "load_event": ("""
-- The header of a Lua 5.4 binary chunk: whatever `load` is here, it must not run bytecode.
local bytecode = "\\27Lua\\84\\0\\25\\147\\r\\n\\26\\n\\4\\8\\8\\120\\86\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\40\\119\\64"
return function(event)
  local chunk = assert(load(bytecode, "=bytecode", "b"))
  return {title = "escaped", message = "bytecode loaded: " .. tostring(chunk), data = {}}
end
""", r"load|binary"),
    "loadtext_event": ("""
return function(event)
  local chunk = assert(load("return os", "=text", "t"))
  return {title = "escaped", message = "load ran: " .. tostring(chunk()), data = {}}
end
""", r"load"),
    "pattern_event": ("""
-- Pattern matching runs in C, where the instruction count does not advance: on 64 KiB this
-- backtracking pattern would run for hours.
return function(event)
  local parts = {}
  for i = 1, 8 do parts[i] = string.rep("a", 8192) end
  local subject = table.concat(parts)
  return {title = "slow", message = tostring(subject:find(".-.-.-b")), data = {}}
end
""", r"longer than"),
    "rep_event": ("""
-- string.rep loops in C once per copy, even for an empty string.
return function(event)
  local s = string.rep("", 1 << 40)
  return {title = "slow", message = "rep returned " .. #s, data = {}}
end
""", r"longer than"),
    "concat_event": (f"""
-- Issue 11: without a guard this spins in C for good, and the hub with it.
return function(event)
  return {{title = {SELF_CONCAT}, message = "", data = {{}}}}
end
""", r"table\.concat: more than 1048576 elements"),
    "sort_event": (f"""
return function(event)
  table.sort({C_META.format("(1 << 31) - 2")})
end
""", r"table\.sort: table longer than 1048576 elements"),
    "unpack_event": (f"""
-- Each unpack is one instruction but 20000 C calls: charged to the budget, as visits.
return function(event)
  local t = {C_META.format(0)}
  for i = 1, 1e6 do select("#", table.unpack(t, 1, 20000)) end
end
""", r"instruction budget exceeded"),
    "backtrack_event": ("""
-- Within the 8 KiB cap, but backtracking for years in Lua's own matcher.
return function(event)
  return {title = tostring(string.rep("a", 8192):find(".-.-.-b")), message = "", data = {}}
end
""", r"instruction budget exceeded"),
    "slow_event": (f"""
return function(event)
{SLOW_LOOP}
end
""", r"time budget exceeded"),
    "error_event": ("""
return function(event)
  error("deliberate failure for event " .. event.data.id)
end
""", r"deliberate failure for event \d+"),
    "shape_event": ("""
return function(event)
  return "a string, not a table"
end
""", r"table"),
}

ROUNDS = 3
RUN_BOUND = 15.0  # seconds for all rounds: each bad call is a few ms at most


def bad_event(event_type, data_id, path):
    return {"event_type": event_type, "project": PROJECT, "actor": ACTOR,
            "data": {"id": data_id, "title": "bad", "path": str(path)}}


async def test_each_bad_script_costs_its_own_notification_only(start_herald, tmp_path):
    sdir = scripts_dir(tmp_path / "scripts",
                       {f"{name}.lua": text for name, (text, _) in BAD_SCRIPTS.items()})
    herald = start_herald({"scripts": {"dir": str(sdir), "instructions": INSTRUCTIONS,
                                       "memory": MEMORY}})
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    canary = tmp_path / "escaped"

    started = time.monotonic()
    good = 0
    for _ in range(ROUNDS):
        for name in BAD_SCRIPTS:
            good += 1
            herald.send(milestone_event(good))
            herald.send(bad_event(name, 1000 + good, canary))
        bystanders.send(1)
    herald.send(milestone_event(good + 1))
    for data_id in range(1, good + 2):
        msg = await recv_json(ws)
        assert msg["event_type"] == "milestone_updated" and msg["data"]["id"] == data_id, \
            f"expected good event {data_id} next, got {msg}"
    elapsed = time.monotonic() - started
    assert elapsed < RUN_BOUND, f"{ROUNDS * len(BAD_SCRIPTS)} bad calls took {elapsed:.1f} s"

    log = herald.log()
    for name, (_, reason) in BAD_SCRIPTS.items():
        lines = [line for line in log.splitlines() if f"{name}.lua" in line]
        assert len(lines) >= ROUNDS, f"{name}.lua: {len(lines)} log lines, expected {ROUNDS}"
        assert all(re.search(reason, line) for line in lines), \
            f"{name}.lua: reason /{reason}/ missing in {lines[:2]}"
    assert not canary.exists(), "a script wrote to the file system"
    await bystanders.check()

    # Carrying on at full speed: 300 good events right after the bad ones.
    started = time.monotonic()
    for i in range(300):
        herald.send(milestone_event(10000 + i))
    for i in range(300):
        assert (await recv_json(ws))["data"]["id"] == 10000 + i
    assert time.monotonic() - started < RUN_BOUND


# ----------------------------------------------------------------------------- hostile

AUTHORIZE_HOSTILE = f"""
-- Project 31: the C loop of issue 11; project 33: slow C work between few instructions.
return function(user_id, project_id)
  if project_id == 31 then return {SELF_CONCAT} end
  if project_id == 33 then
{SLOW_LOOP}
  end
  return true
end
"""


def metrics(herald):
    status, body = http_get(herald.port, "/metrics")[:2]
    assert status == 200
    text = body.decode() if isinstance(body, bytes) else body
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))


async def test_hostile_formatter_and_authorize_leave_the_hub_answering(start_herald, tmp_path):
    sdir = scripts_dir(tmp_path / "scripts", {
        "authorize.lua": AUTHORIZE_HOSTILE,
        "concat_event.lua": BAD_SCRIPTS["concat_event"][0],
        "slow_event.lua": BAD_SCRIPTS["slow_event"][0]})
    herald = start_herald({"subscriptions": {"policy": "lua"},
                           "scripts": {"dir": str(sdir), "instructions": INSTRUCTIONS,
                                       "memory": MEMORY}})
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    canary = tmp_path / "escaped"

    # Each hostile call is over within the time limit: /healthz answers right after it.
    for data_id, name in enumerate(("concat_event", "slow_event"), 1):
        herald.send(bad_event(name, data_id, canary))
        assert_healthy(herald)
    for project_id in (31, 33):
        await send_json(ws, {"type": "subscribe_project", "project_id": project_id})
        await expect_error(ws, "forbidden")
        assert_healthy(herald)
    herald.send(milestone_event(3))
    assert (await recv_json(ws))["data"]["id"] == 3
    await bystanders.check()

    m = metrics(herald)
    assert m['herald_lua_errors_total{script="concat_event.lua"}'] == "1"
    assert m['herald_lua_budget_overruns_total{script="slow_event.lua",budget="time"}'] == "1"
    assert m['herald_lua_errors_total{script="authorize.lua"}'] == "1"
    assert m['herald_lua_budget_overruns_total{script="authorize.lua",budget="time"}'] == "1"
    log = herald.log()
    assert re.search(r"authorize\.lua.*table\.concat: more than", log), log
    assert re.search(r"authorize\.lua.*time budget exceeded", log), log

    # SIGTERM with hostile events still queued: each is formatted (and fails) on the way out.
    for i in range(5):
        herald.send(bad_event("slow_event" if i % 2 else "concat_event", 10 + i, canary))
    started = time.monotonic()
    herald.terminate()
    assert herald.wait(timeout=10) == 0
    assert time.monotonic() - started < 10


# ----------------------------------------------------------------------------- reload

MILESTONE_UPDATED = """return require("notify").formatter {{
\ttitle = "Milestone Updated",
\tmessage = "{message}",
\tname = {{"data.title"}},
\tfields = {{"id", "title", "progress"}},
}}
"""


async def hup(herald, outcome):
    """SIGHUP the daemon and wait for the log line of that reload: outcome "ok" or "failed"."""
    text = "scripts reloaded" if outcome == "ok" else "reload failed"
    before = log_count(herald, text)
    os.kill(herald.proc.pid, signal.SIGHUP)
    await wait_until(lambda: log_count(herald, text) > before, what=f"reload {outcome}")


async def wording(herald, ws, data_id, project=PROJECT, event_type="milestone_updated"):
    herald.send(milestone_event(data_id, project=project, event_type=event_type))
    msg = await recv_json(ws)
    assert msg["data"]["id"] == data_id, msg
    return msg["message"]


async def test_sighup_reloads_new_wording_and_refuses_a_broken_set(start_herald, tmp_path):
    sdir = scripts_dir(tmp_path / "scripts")
    herald = start_herald({"scripts": {"dir": str(sdir), "instructions": INSTRUCTIONS}})
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    await subscribe(ws)
    assert await wording(herald, ws, 1) == "Milestone 'Sprint Planning' has been updated"

    # New wording on disk, then SIGHUP: later events use it, on the same connection.
    (sdir / "milestone_updated.lua").write_text(
        MILESTONE_UPDATED.format(message="Milestone '{name}' was changed (v2)"))
    bystanders.send()
    await hup(herald, "ok")
    assert await wording(herald, ws, 2) == "Milestone 'Sprint Planning' was changed (v2)"
    assert open_connections(herald) == 3
    await bystanders.check()

    # A good change next to a syntax error elsewhere: the whole new set is refused.
    (sdir / "milestone_updated.lua").write_text(
        MILESTONE_UPDATED.format(message="Milestone '{name}' v3"))
    (sdir / "project_created.lua").write_text("return function(event\n  return {}\nend\n")
    bystanders.send()
    await hup(herald, "failed")
    assert re.search(r"reload failed.*project_created\.lua", herald.log()), \
        "the failed reload does not name the broken script"
    assert await wording(herald, ws, 3) == "Milestone 'Sprint Planning' was changed (v2)"
    assert await wording(herald, ws, 4, event_type="project_created") == \
        f"Project '{PROJECT['title']}' has been created"
    await bystanders.check()

    # The script itself broken: the old one stays in force.
    shutil.copy(SCRIPTS_DIR / "project_created.lua", sdir)
    (sdir / "milestone_updated.lua").write_text("return function(event) return { end\n")
    await hup(herald, "failed")
    assert re.search(r"reload failed.*milestone_updated\.lua", herald.log())
    assert await wording(herald, ws, 5) == "Milestone 'Sprint Planning' was changed (v2)"

    # A chunk that loops forever when it is run at load: the budget stops it, the reload fails.
    (sdir / "milestone_updated.lua").write_text(
        MILESTONE_UPDATED.format(message="Milestone '{name}' v3"))
    (sdir / "hang_event.lua").write_text("while true do end\nreturn function() end\n")
    await hup(herald, "failed")
    assert re.search(r"reload failed.*hang_event\.lua.*instruction", herald.log())
    assert await wording(herald, ws, 6) == "Milestone 'Sprint Planning' was changed (v2)"

    # Fixed: the next reload takes the whole new set.
    (sdir / "hang_event.lua").unlink()
    await hup(herald, "ok")
    assert await wording(herald, ws, 7) == "Milestone 'Sprint Planning' v3"
    assert open_connections(herald) == 3, "a reload dropped a connection"
    await bystanders.check()

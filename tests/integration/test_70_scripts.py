"""Lua authoring: JSON null reads as absent in scripts (end to end), `herald render` with an
array of events and the scripts' print(), `herald test-scripts` (a passing and a failing fixture
with its diff), and check-config's warning about script files ignored for their name."""

import json
import shutil

from harness import (SCRIPTS_DIR, connect, milestone_event, recv_json, run_herald, subscribe,
                     write_config)

ACTOR_SCRIPT = """\
-- the idiomatic test of an optional field: null must read as absent
return function(event)
  local who = "someone"
  if event.actor then
    who = event.actor.username
  end
  print("actor", event.actor == nil, event.data and event.data.list and #event.data.list)
  return {title = who, message = who .. " did it",
          data = {due = herald.null, kept = event.data and event.data.list}}
end
"""


def scripts_dir(tmp_path, **files):
    d = tmp_path / "scripts"
    d.mkdir()
    (d / "default.lua").write_text(
        "return function(e) return {title = 't', message = 'm', data = e.data} end\n")
    for name, text in files.items():
        (d / name).write_text(text)
    return d


async def test_a_null_actor_reads_as_absent_in_a_served_script(start_herald, tmp_path):
    d = scripts_dir(tmp_path, **{"who_did.lua": ACTOR_SCRIPT})
    herald = start_herald({"scripts": {"dir": str(d)}})
    ws = await connect(herald, 7)
    await subscribe(ws)
    for actor in (None, {"id": 5, "username": "jane"}):
        event = milestone_event(1, event_type="who_did")
        event["actor"] = actor
        event["data"] = {"list": [1, None, 3], "gone": None}
        herald.send(event)
        got = await recv_json(ws)
        assert got["title"] == ("someone" if actor is None else "jane"), got
        # herald.null writes null; an array keeps its nulls
        assert got["data"] == {"due": None, "kept": [1, None, 3]}
        assert got["actor"] == actor  # the notification's actor is the event's, null or not
    assert "attempt to index" not in herald.log()


def test_render_prints_an_array_and_the_scripts_print(tmp_path):
    d = scripts_dir(tmp_path, **{"who_did.lua": ACTOR_SCRIPT})
    config = write_config(tmp_path / "herald.yaml", {"scripts": {"dir": str(d)}})
    events = tmp_path / "events.json"
    events.write_text(json.dumps([
        {"event_type": "who_did", "users": [7], "actor": None, "data": {"list": [1, 2]}},
        {"event_type": "who_did", "users": [7], "actor": {"id": 5, "username": "jane"}},
        {"event_type": "sprint_started", "users": [7], "data": {"n": 1}},
    ]))
    result = run_herald(["render", str(events), "-c", str(config)])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [n["title"] for n in out] == ["someone", "jane", "t"]
    assert out[2]["data"] == {"n": 1}
    assert "[lua] who_did.lua:7: actor\ttrue\t2\n" in result.stderr
    assert "[lua] who_did.lua:7: actor\tfalse\tnil\n" in result.stderr
    # one event, as before: one notification, not an array
    single = tmp_path / "one.json"
    single.write_text(json.dumps({"event_type": "sprint_started", "users": [7]}))
    result = run_herald(["render", str(single), "-c", str(config)])
    assert json.loads(result.stdout)["title"] == "t"
    # a bad event in an array names its index
    events.write_text(json.dumps([{"event_type": "sprint_started", "users": [7]}, {"users": [7]}]))
    result = run_herald(["render", str(events), "-c", str(config)])
    assert result.returncode == 1 and "[1]: event_type" in result.stderr, result.stderr


def test_the_shipped_fixtures_pass():
    result = run_herald(["test-scripts", str(SCRIPTS_DIR)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "13 fixtures, 13 passed, 0 failed" in result.stdout


def test_a_wrong_fixture_fails_with_a_diff(tmp_path):
    d = tmp_path / "scripts"
    shutil.copytree(SCRIPTS_DIR, d)
    fixture = d / "tests" / "milestone_created.json"
    case = json.loads(fixture.read_text())
    case["notification"]["title"] = "Milestone Added"
    case["notification"]["room"] = "project_2"  # never compared
    case["notification"]["pos"] = "x:1-0"
    fixture.write_text(json.dumps(case))
    broken = d / "tests" / "zz_broken.json"
    broken.write_text(json.dumps({"event": {"event_type": "x"}}))
    result = run_herald(["test-scripts", str(d)])
    assert result.returncode == 1
    assert f"FAIL {fixture}" in result.stdout
    assert '-  "title": "Milestone Added",' in result.stdout
    assert '+  "title": "Milestone Created",' in result.stdout
    assert '   "message": "Milestone \'Sprint Planning\' has been created",' in result.stdout
    assert "room" not in result.stdout and "pos" not in result.stdout
    assert "zz_broken.json: a fixture is" in result.stderr
    assert "14 fixtures, 12 passed, 2 failed" in result.stdout
    # the default directory is the config's scripts.dir
    config = write_config(tmp_path / "herald.yaml", {"scripts": {"dir": str(d)}})
    assert run_herald(["test-scripts", "-c", str(config)]).returncode == 1
    fixture.unlink()
    broken.unlink()
    result = run_herald(["test-scripts", "-c", str(config)])
    assert result.returncode == 0 and "12 fixtures, 12 passed" in result.stdout, result.stdout


def test_check_config_warns_about_ignored_script_names(tmp_path):
    d = scripts_dir(tmp_path, **{"Milestone-Created.lua": "return function() end\n",
                                 "milestone_created.lua.orig": "x",
                                 "authorize.lua": "return function() return true end\n"})
    (d / "lib").mkdir()
    (d / "lib" / "helpers.lua").write_text("return {}\n")
    config = write_config(tmp_path / "herald.yaml", {"scripts": {"dir": str(d)}})
    result = run_herald(["check-config", "-c", str(config)])
    assert result.returncode == 0, result.stderr  # a warning, not a failure
    assert (f"warning: {d}/Milestone-Created.lua is ignored: 'Milestone-Created' is not an "
            "event type") in result.stderr
    assert result.stderr.count("warning") == 1, result.stderr

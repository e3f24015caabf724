"""Who may hear what: subscriptions.policy open / claim / lua.

A refused subscription is answered {"type":"error","code":"forbidden"}, the connection stays
and keeps its other rooms, and nothing of the refused project reaches it (barrier). Readings
taken where the spec is loose:
  - claim: a token without the claim may subscribe to nothing; a claim that is not an array of
    positive integers makes the token itself invalid (HTTP 403), as auth.h states.
  - lua: only the boolean `true` allows (a script returning "yes" or 1 refuses); a policy of
    lua without scripts/authorize.lua is a configuration error that stops the start, rather
    than a hub that silently refuses every subscription.
"""

import re
import subprocess
import time

import yaml

from harness import (SOURCE_DIR, claims, connect, expect_error, expect_nothing_then,
                     make_token, milestone_event, recv_json, run_herald, subscribe, ws_url,
                     write_config)
from hard_harness import BYSTANDER_PROJECT, Bystanders, expect_refused, scripts_dir


def project(i):
    return {"id": i, "title": f"Project {i}"}


def token(user, **extra):
    return make_token(payload=claims(user, **extra))


async def forbidden(ws, project_id):
    await ws.send(f'{{"type": "subscribe_project", "project_id": {project_id}}}')
    await expect_error(ws, "forbidden")


async def hears_exactly(herald, projects, listeners):
    """An event to each project of `projects`; each (ws, user, allowed) of `listeners` gets the
    events of its `allowed` projects, in order, and nothing else (barrier)."""
    for p in projects:
        herald.send(milestone_event(p, project=project(p)))
    for ws, user, allowed in listeners:
        for p in allowed:
            msg = await recv_json(ws)
            assert msg["project_id"] == p, f"user {user}: expected project {p}, got {msg}"
        await expect_nothing_then(ws, herald.send_barrier(user=user))


# ----------------------------------------------------------------------------- open


async def test_open_policy_warns_at_start_and_allows_any_project(start_herald):
    herald = start_herald()
    assert re.search(r"^\S+ warn\b.*\bopen\b", herald.log(), re.MULTILINE | re.IGNORECASE), \
        "no warning about the open subscription policy at start"
    bystanders = await Bystanders.join(herald)
    ws = await connect(herald, 7)
    for p in (2, 3, 77777):
        await subscribe(ws, p)
    await hears_exactly(herald, [2, 3, 77777], [(ws, 7, [2, 3, 77777])])
    await bystanders.check()


def test_shipped_production_config_does_not_use_open():
    cfg = yaml.safe_load((SOURCE_DIR / "config" / "herald.yaml").read_text())
    policy = (cfg.get("subscriptions") or {}).get("policy", "open")
    assert policy in ("claim", "lua"), f"config/herald.yaml: subscriptions.policy is {policy}"


# ----------------------------------------------------------------------------- claim


async def test_claim_policy_allows_only_the_listed_projects(start_herald):
    herald = start_herald({"subscriptions": {"policy": "claim"}})
    assert not re.search(r"^\S+ warn\b.*\bopen\b", herald.log(), re.MULTILINE), \
        "warned about the open policy while running another"
    bystanders = await Bystanders.join(
        herald, connect=lambda u: connect(herald, u, token(u, projects=[BYSTANDER_PROJECT["id"]])))
    ws = await connect(herald, 7, token(7, projects=[2, 5]))
    await subscribe(ws, 2)
    await forbidden(ws, 3)
    await forbidden(ws, BYSTANDER_PROJECT["id"])
    await subscribe(ws, 5)  # still connected, and a later allowed subscription works

    # No claim at all: nothing may be subscribed; the token is still good for user rooms.
    bare = await connect(herald, 8, token(8))
    await forbidden(bare, 2)

    await hears_exactly(herald, [2, 3, 5], [(ws, 7, [2, 5]), (bare, 8, [])])
    await bystanders.check()


async def test_claim_that_is_not_a_list_of_project_ids_is_403(start_herald):
    herald = start_herald({"subscriptions": {"policy": "claim"}})
    bystanders = await Bystanders.join(
        herald, connect=lambda u: connect(herald, u, token(u, projects=[BYSTANDER_PROJECT["id"]])))
    for bad in (["2"], "2", 2, [2.5], [0], [-2], {"2": True}, [[2]], [True]):
        await expect_refused(ws_url(herald.port, token(7, projects=bad)), 403)
    await bystanders.check()


async def test_claim_name_is_configurable(start_herald):
    herald = start_herald({"subscriptions": {"policy": "claim", "claim": "proj_ids"}})
    bystanders = await Bystanders.join(
        herald, connect=lambda u: connect(herald, u, token(u, proj_ids=[BYSTANDER_PROJECT["id"]])))
    ws = await connect(herald, 7, token(7, proj_ids=[2], projects=[3]))
    await subscribe(ws, 2)
    await forbidden(ws, 3)  # the default claim name means nothing here
    await hears_exactly(herald, [2, 3], [(ws, 7, [2])])
    await bystanders.check()


# ----------------------------------------------------------------------------- lua

AUTHORIZE = """
-- User 7 may also have project 3; everyone may have the even projects. Projects 13 to 19
-- exercise failures, which must refuse.
local extra = {[7] = {[3] = true}}
return function(user_id, project_id)
  if project_id == 13 then error("directory service unavailable") end
  if project_id == 15 then while true do end end
  if project_id == 17 then return "yes" end
  if project_id == 19 then return 1 end
  if project_id == 21 then local t = {} while true do t[#t + 1] = string.rep("x", 8000) end end
  if extra[user_id] and extra[user_id][project_id] then return true end
  return project_id % 2 == 0
end
"""


async def test_lua_policy_asks_authorize_lua_and_failures_refuse(start_herald, tmp_path):
    sdir = scripts_dir(tmp_path / "scripts", {"authorize.lua": AUTHORIZE})
    herald = start_herald({"subscriptions": {"policy": "lua"},
                           "scripts": {"dir": str(sdir), "instructions": 100000,
                                       "memory": 8 * 1024 * 1024}})
    bystanders = await Bystanders.join(herald)  # 4242 is even
    seven = await connect(herald, 7)
    eight = await connect(herald, 8)
    for p in (2, 3):
        await subscribe(seven, p)
    await subscribe(eight, 2)
    await forbidden(eight, 3)
    await forbidden(seven, 5)

    started = time.monotonic()
    for p, why in ((13, r"directory service unavailable"), (15, r"instruction"),
                   (17, None), (19, None), (21, r"memory")):
        await forbidden(seven, p)
        if why:
            herald.wait_for_log(rf"authorize\.lua.*{why}")
    assert time.monotonic() - started < 10, "failing authorize calls were slow"

    await hears_exactly(herald, [2, 3, 5, 13, 15, 17, 19, 21],
                        [(seven, 7, [2, 3]), (eight, 8, [2])])
    await bystanders.check()


def test_lua_policy_without_authorize_lua_does_not_start(tmp_path):
    sdir = scripts_dir(tmp_path / "scripts")
    config = write_config(tmp_path / "herald.yaml",
                          {"subscriptions": {"policy": "lua"}, "scripts": {"dir": str(sdir)}})
    try:
        result = run_herald(["-c", str(config)], timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("started (and ran) with policy lua and no authorize.lua") from None
    assert result.returncode > 0, f"exit {result.returncode}: {result.stderr}"
    assert "authorize.lua" in result.stderr, result.stderr

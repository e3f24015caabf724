"""Configuration errors (FILE:LINE:COL: and the key, also for what is found before serving: the
scripts directory, a plugin that cannot be loaded or refuses its options, auth without its
secret), plugin loading refusals, the test_good plugin's acknowledgements, and the `herald
token` subcommand (claims, refused arguments)."""

import json
import re

import jwt
import pytest

from harness import (SECRET, TEST_PLUGIN_DIR, connect, expect_error, expect_nothing_then,
                     milestone_event, run_herald, sanitizer_reports, send_json, write_config)

GOOD_CONFIG = """\
server:
  listen: 127.0.0.1
  port: $port
auth:
  algorithms: [HS256]
  secret: {env: HERALD_JWT_SECRET}
scripts:
  dir: $scripts_dir
plugin_dir: $plugin_dir
plugins:
  - name: stdin
log:
  level: info
"""

# name: ({line number: replacement text}, line of the error, key named, words of the message)
BAD_CONFIGS = {
    "unknown_server_key": ({3: "  port: $port\n  max_conections: 10"}, 4, "max_conections",
                           ["max_connections", "ws_path", "listen"]),
    "unknown_top_level_key": ({12: "logging:"}, 12, "logging", ["server", "auth", "plugins"]),
    "port_not_a_number": ({3: '  port: "abc"'}, 3, "port", []),
    "port_out_of_range": ({3: "  port: 70000"}, 3, "port", []),
}

COMMANDS = {
    "check-config": ["check-config", "-c"],
    "--check-config": ["--check-config", "-c"],
    "start": ["-c"],
}


def bad_config(tmp_path, changes):
    lines = GOOD_CONFIG.splitlines()
    for number, text in changes.items():
        lines[number - 1] = text
    return write_config(tmp_path / "bad.yaml", "\n".join(lines) + "\n")


def assert_refused(result):
    """herald stopped with an error of its own: non-zero exit, not a signal, no sanitizer."""
    assert result.returncode > 0, f"exit {result.returncode}\n{result.stderr}"
    assert not sanitizer_reports(result.stderr), result.stderr


@pytest.mark.parametrize("command", ["check-config", "--check-config"])
def test_check_config_accepts_a_good_file(tmp_path, command):
    path = write_config(tmp_path / "good.yaml", GOOD_CONFIG)
    result = run_herald(COMMANDS[command] + [str(path)])
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_config_error_names_file_line_and_key(tmp_path, case, command):
    changes, line, key, words = BAD_CONFIGS[case]
    path = bad_config(tmp_path, changes)
    result = run_herald(COMMANDS[command] + [str(path)], timeout=10)  # quickly, even at start
    assert_refused(result)
    assert re.search(rf"{re.escape(str(path))}:{line}:\d+:", result.stderr), result.stderr
    message = result.stderr.replace(str(path), "FILE")
    for word in [key, *words]:
        assert word in message, f"{word!r} missing from: {result.stderr}"


# ----------------------------------------------------------------------------- plugins


def plugin_config(tmp_path, path, options=None):
    entry = {"name": path.stem, "path": str(path)}
    if options is not None:
        entry["options"] = options
    return write_config(tmp_path / "herald.yaml",
                        {"plugins": [{"name": "stdin"}, entry]})


def start_refused(tmp_path, plugin, options=None):
    """Start herald with `plugin` (a path) configured; it must refuse. Returns stderr."""
    result = run_herald(["-c", str(plugin_config(tmp_path, plugin, options))])
    assert_refused(result)
    return result.stderr


def lines_naming(text, needle):
    return [line for line in text.splitlines() if needle in line]


def test_plugin_built_for_another_abi_is_refused(tmp_path):
    plugin = TEST_PLUGIN_DIR / "test_badabi.so"
    lines = lines_naming(start_refused(tmp_path, plugin), str(plugin))
    assert any(re.search(r"\b42\b", line) and re.search(r"\b1\b", line) for line in lines), \
        f"no line names {plugin} with ABI numbers 42 and 1: {lines}"


def test_plugin_without_entry_symbol_is_refused(tmp_path):
    plugin = TEST_PLUGIN_DIR / "test_nosymbol.so"
    stderr = start_refused(tmp_path, plugin)
    assert str(plugin) in stderr and "herald_plugin_entry" in stderr, stderr


def test_plugin_whose_start_fails_is_refused(tmp_path):
    start_refused(tmp_path, TEST_PLUGIN_DIR / "test_failstart.so")


def test_missing_plugin_file_is_refused(tmp_path):
    plugin = tmp_path / "no_such_plugin.so"
    assert str(plugin) in start_refused(tmp_path, plugin)


def test_unknown_plugin_option_lists_the_valid_ones(tmp_path):
    plugin = TEST_PLUGIN_DIR / "test_good.so"
    config = plugin_config(tmp_path, plugin, {"event": "{}", "count": 1, "colour": "red"})
    result = run_herald(["-c", str(config)])
    assert_refused(result)
    assert re.search(rf"{re.escape(str(config))}:\d+:\d+:", result.stderr), result.stderr
    message = result.stderr.replace(str(config), "FILE").replace(str(plugin), "PLUGIN")
    for word in ("colour", "event", "count", "fail_create"):
        assert word in message, f"{word!r} missing from: {result.stderr}"


def test_good_plugin_events_are_acknowledged(start_herald):
    event = milestone_event(1, users=[7])
    herald = start_herald({"plugins": [{
        "name": "test_good", "path": str(TEST_PLUGIN_DIR / "test_good.so"),
        "options": {"event": json.dumps(event), "count": 50}}]})
    herald.wait_for_log(r"ack tag=50 status=0\b")


# ----------------------------------------------------------------------------- herald token


async def test_token_subcommand_mints_an_accepted_token(herald):
    result = run_herald(["token", "--user", "7", "-c", str(herald.config_path)])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    token = lines[0].strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert (claims["user_id"], claims["token_type"]) == (7, "access")
    ws = await connect(herald, token=token)
    await expect_nothing_then(ws, herald.send_barrier(user=7))


# ------------------------------------------------------------------ errors found before serving


def entry_line(config, name):
    """The line of the plugins list entry whose name is `name` (1-based)."""
    lines = config.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if re.search(rf"name: \"?{name}\"?$", line))


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_scripts_dir_names_the_key(tmp_path, command):
    path = bad_config(tmp_path, {8: "  dir: /nonexistent/scripts"})
    result = run_herald(COMMANDS[command] + [str(path)], timeout=10)
    assert_refused(result)
    assert (f"{path}:8:8: scripts.dir: cannot open /nonexistent/scripts: No such file"
            in result.stderr), result.stderr


def test_missing_default_scripts_dir_is_placed_at_the_top(tmp_path):
    path = write_config(tmp_path / "herald.yaml", GOOD_CONFIG.replace("scripts:\n  dir: $scripts_dir\n", ""))
    result = run_herald(["check-config", "-c", str(path)])
    assert_refused(result)
    assert f"{path}:1:1: scripts.dir: cannot open {tmp_path}/scripts" in result.stderr, \
        result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_plugin_that_cannot_be_loaded_names_its_entry(tmp_path, command):
    plugin = tmp_path / "no_such_plugin.so"
    config = plugin_config(tmp_path, plugin)
    result = run_herald(COMMANDS[command] + [str(config)], timeout=10)
    assert_refused(result)
    line = entry_line(config, "no_such_plugin")
    assert re.search(rf"{re.escape(str(config))}:{line}:\d+: plugin no_such_plugin: cannot load: "
                     rf"{re.escape(str(plugin))}", result.stderr), result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_plugin_refusing_its_options_names_its_entry(tmp_path, command):
    plugin = TEST_PLUGIN_DIR / "test_good.so"
    config = plugin_config(tmp_path, plugin, {"event": "{}", "fail_create": True})
    result = run_herald(COMMANDS[command] + [str(config)], timeout=10)
    assert_refused(result)
    line = entry_line(config, "test_good")
    assert re.search(rf"{re.escape(str(config))}:{line}:\d+: plugin test_good \(.*test_good.so\): "
                     r"create failed", result.stderr), result.stderr


AUTH_WITHOUT_SECRET = {
    # the auth line of GOOD_CONFIG (4-6) replaced by ...: (changes, line:col of the error)
    "empty_section": ({4: "auth:", 5: "", 6: ""}, "4:6"),
    "no_section": ({4: "", 5: "", 6: ""}, "1:1"),
    "no_secret_key": ({5: "  leeway: 5", 6: ""}, "5:3"),
}


@pytest.mark.parametrize("command", [*COMMANDS, "token"])
@pytest.mark.parametrize("case", AUTH_WITHOUT_SECRET)
def test_auth_without_its_secret_names_a_place(tmp_path, case, command):
    changes, place = AUTH_WITHOUT_SECRET[case]
    path = bad_config(tmp_path, changes)
    args = ["token", "--user", "7", "-c"] if command == "token" else COMMANDS[command]
    result = run_herald(args + [str(path)], timeout=10)
    assert_refused(result)
    assert f"{path}:{place}: auth.secret: required" in result.stderr, result.stderr


# ------------------------------------------------------------------ herald token: claims, refusals


async def test_token_with_claims_passes_the_claim_policy(start_herald):
    herald = start_herald({"subscriptions": {"policy": "claim"}})
    result = run_herald(["token", "--user", "7", "--ttl", "120", "--claim", "projects=2,3",
                         "--claim", "team=web", "--claim", "projects=9",
                         "-c", str(herald.config_path)])
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["projects"] == [2, 3, 9] and claims["team"] == "web"
    assert claims["exp"] - claims["iat"] == 120
    # a single value of the policy's claim is still a list
    one = run_herald(["token", "--user", "7", "--claim", "projects=2", "-c",
                      str(herald.config_path)]).stdout.strip()
    assert jwt.decode(one, SECRET, algorithms=["HS256"])["projects"] == [2]
    ws = await connect(herald, token=token)
    await send_json(ws, {"type": "subscribe_project", "project_id": 3})
    await send_json(ws, {"type": "subscribe_project", "project_id": 4})
    await expect_error(ws, "forbidden")  # 4 is not in the claim; 3 was accepted silently


@pytest.mark.parametrize("args, words", [
    (["--user", "12abc"], ["--user 12abc", "whole number"]),
    (["--user", "0"], ["--user 0", "whole number"]),
    (["--user", "-3"], ["--user -3"]),
    (["--user", "7", "--ttl", "1h"], ["--ttl 1h"]),
    (["--user", "7", "--frobnicate"], ["frobnicate", "usage"]),
    (["--user", "7", "--claim", "projects"], ["NAME=VALUE"]),
    (["--user", "7", "--claim", "exp=5"], ["exp"]),
    (["--user", "7", "--claim", "user_id=8"], ["user_id"]),
    ([], ["--user ID"]),
])
def test_token_refuses_bad_arguments(tmp_path, args, words):
    path = write_config(tmp_path / "good.yaml", GOOD_CONFIG)
    result = run_herald(["token", *args, "-c", str(path)])
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    for word in words:
        assert word in result.stderr, result.stderr

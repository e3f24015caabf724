"""Configuration errors (FILE:LINE:COL: and the key), plugin loading refusals, the test_good
plugin's acknowledgements, and the `herald token` subcommand."""

import json
import re

import jwt
import pytest

from harness import (SECRET, TEST_PLUGIN_DIR, connect, expect_nothing_then, milestone_event,
                     run_herald, sanitizer_reports, write_config)

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

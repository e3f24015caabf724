"""Herald under a service manager: the sd_notify messages on $NOTIFY_SOCKET (READY=1 once
serving, RELOADING=1 with MONOTONIC_USEC then READY=1 around a reload, STOPPING=1), log lines
with journald priorities when stderr is the journal, and structured fields in JSON logs."""

import json
import os
import signal
import socket
import time

import harness
from harness import milestone_event


def notify_socket(tmp_path, abstract):
    """A datagram socket as systemd makes it, and the value of NOTIFY_SOCKET naming it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"herald-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        value = "@" + name
    else:
        value = str(tmp_path / "notify")
        sock.bind(value)
    sock.settimeout(harness.RECV_TIMEOUT)
    return sock, value


def run_under(tmp_path, config=None, env=None, before_start=None):
    """A daemon built by hand (not the fixture), so its log file can be known before it starts."""
    herald = harness.Herald(tmp_path / "herald", config, env)
    if before_start:
        before_start(herald)
    return herald


def test_ready_reloading_stopping(tmp_path):
    for abstract in (True, False):
        sock, value = notify_socket(tmp_path, abstract)
        (tmp_path / "herald").mkdir(exist_ok=True)
        herald = run_under(tmp_path, env={"NOTIFY_SOCKET": value})
        try:
            herald.start()
            assert sock.recv(4096) == b"READY=1"
            assert "serving" in herald.log()  # sent once it serves, not before
            before = time.monotonic_ns() // 1000
            herald.proc.send_signal(signal.SIGHUP)
            reloading = sock.recv(4096).decode()
            assert reloading.startswith("RELOADING=1\nMONOTONIC_USEC="), reloading
            usec = int(reloading.split("=")[-1])
            assert before <= usec <= time.monotonic_ns() // 1000
            assert sock.recv(4096) == b"READY=1"
            assert "scripts reloaded" in herald.log()
            herald.terminate()
            assert sock.recv(4096) == b"STOPPING=1"
        finally:
            problems = herald.stop()
            sock.close()
            if not abstract:
                os.unlink(value)
        assert not problems, problems


def test_journal_priorities_only_when_stderr_is_the_journal(tmp_path):
    def point_journal_stream_at_log(herald):
        herald.log_path.write_bytes(b"")  # opened again "wb" by start(): the same inode
        st = os.stat(herald.log_path)
        herald.env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}

    (tmp_path / "herald").mkdir()
    herald = run_under(tmp_path, before_start=point_journal_stream_at_log)
    try:
        herald.start()
        herald.send({"event_type": "milestone_updated"})  # refused: no project: a warning
        herald.wait_for_log("<4>")
    finally:
        problems = herald.stop()
    assert not problems, problems
    lines = herald.log().splitlines()
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>", "<7>") for line in lines), lines
    assert any(line.startswith("<6>herald ") and "serving" in line for line in lines), lines
    assert any(line.startswith("<6>[stdin] ") or line.startswith("<6>plugin stdin loaded")
               for line in lines), lines

    # the variable names another stream (inherited from a parent): ordinary lines
    other = tmp_path / "other"
    other.mkdir()
    herald = harness.Herald(other, None, {"JOURNAL_STREAM": "1:2"})
    try:
        herald.start()
    finally:
        problems = herald.stop()
    assert not problems, problems
    assert all(line[:1] != "<" for line in herald.log().splitlines())
    assert any(" info  herald " in line for line in herald.log().splitlines())


def test_json_lines_carry_structured_fields(start_herald):
    herald = start_herald({"log": {"level": "info", "format": "json"}})
    herald.send(milestone_event(1))
    lines = [json.loads(line) for line in herald.log().splitlines() if line.startswith("{")]
    loaded = [line for line in lines if line["msg"].startswith("plugin stdin loaded")]
    assert loaded and loaded[0]["plugin"] == "stdin", lines
    assert set(loaded[0]) == {"ts", "level", "who", "msg", "plugin", "version"}

"""The stdin source: bad lines are skipped and logged with their line number; end of input does
not stop the hub."""

from harness import connect, http_get, milestone_event, recv_json, subscribe, sync


async def test_bad_lines_are_skipped_and_logged_by_line_number(herald):
    ws = await connect(herald)
    await subscribe(ws)
    herald.send(milestone_event(1))
    not_json = herald.send("this is not json {")
    invalid = herald.send(milestone_event(2, project={"id": "x", "title": "Bad"}))
    herald.send(milestone_event(3))

    assert [(await recv_json(ws))["data"]["id"] for _ in range(2)] == [1, 3]
    herald.wait_for_log(rf"line {not_json}\b")
    line = herald.wait_for_log(rf"^.*line {invalid}\b.*$").group(0)
    assert "project.id" in line, f"the reason does not name the field: {line}"


async def test_end_of_input_does_not_stop_the_hub(herald):
    ws = await connect(herald)
    herald.close_stdin()
    herald.wait_for_log(r"end of input after \d+ lines")  # the source has seen EOF
    assert herald.running(), "herald exited at end of stdin"
    assert http_get(herald.port, "/healthz")[0] == 200
    await sync(ws)  # the open connection still answers
    assert ws.open
    await sync(await connect(herald))  # and new ones are accepted
    assert herald.running(), "herald exited at end of stdin"

"""Shutdown: SIGTERM closes every client with 1001 (going away), refuses new ones, exits 0."""

import asyncio

import pytest
import websockets

from harness import RECV_TIMEOUT, connect, subscribe


async def test_sigterm_closes_clients_with_1001_and_exits_0(herald):
    clients = [await connect(herald, 7), await connect(herald, 8)]
    await subscribe(clients[1])
    herald.terminate()

    for ws in clients:
        try:
            await asyncio.wait_for(ws.wait_closed(), RECV_TIMEOUT)
        except asyncio.TimeoutError:
            raise AssertionError(f"client not closed within {RECV_TIMEOUT} s") from None
        assert ws.close_code == 1001

    try:
        await connect(herald, 9)
    except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
        pass
    else:
        raise AssertionError("a connection was accepted after SIGTERM")

    assert herald.wait(timeout=10) == 0
    with pytest.raises(OSError):
        await connect(herald, 9)

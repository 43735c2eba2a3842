"""Hostile WebSocket clients against a real server process, none signed in: each is bounded,
closed with a clear code where it must be, and the server keeps answering everyone else."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.hostile import assert_alive, fragment_fan_out, hostile_server
from tests.e2e.servers import Server
from tests.factories import Chain

PROTOCOL = [Subprotocol("graphql-transport-ws")]
ACCOUNT_CHANGED = """subscription($payer: Address!, $token: Address!) {
  accountChanged(payer: $payer, token: $token) { balance }
}"""


@pytest.fixture(scope="module")
def server(deployed: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with hostile_server(deployed, tmp_path_factory.mktemp("hostile-ws"), WS_PING_MS="500") as running:
        yield running


def ws_url(server: Server) -> str:
    return "ws" + server.url.removeprefix("http") + "/graphql"


async def acknowledged(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "connection_ack"}


async def closed_with(ws: ClientConnection, within: float) -> int | None:
    """The close code the server sent, waiting at most `within` seconds (reading what comes)."""

    async def read_all() -> None:
        while True:
            await ws.recv()

    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(read_all(), within)
    return ws.close_code


def test_a_socket_that_never_sends_connection_init_is_closed_with_4408(server: Server) -> None:
    async def scenario() -> int | None:
        async with connect(ws_url(server), subprotocols=PROTOCOL) as ws:
            return await closed_with(ws, within=3)

    started = time.monotonic()
    assert asyncio.run(scenario()) == 4408
    assert time.monotonic() - started < 3
    assert_alive(server)


def test_a_message_over_the_body_cap_closes_the_socket_with_1009(server: Server) -> None:
    async def scenario() -> int | None:
        async with connect(ws_url(server), subprotocols=PROTOCOL, max_size=None) as ws:
            await acknowledged(ws)
            await ws.send(json.dumps({"type": "ping", "payload": {"x": "x" * 300_000}}))
            return await closed_with(ws, within=5)

    assert asyncio.run(scenario()) == 1009
    assert_alive(server)


def test_a_deeply_nested_message_closes_the_socket_with_4400(server: Server) -> None:
    async def scenario() -> int | None:
        async with connect(ws_url(server), subprotocols=PROTOCOL) as ws:
            await ws.send('{"type": "connection_init", "payload": ' + "[" * 80_000 + "]" * 80_000 + "}")
            return await closed_with(ws, within=5)

    assert asyncio.run(scenario()) == 4400
    assert_alive(server)


def test_thousands_of_subscriptions_on_one_socket_stop_at_the_limit(server: Server, deployed: Chain) -> None:
    variables = {"payer": deployed.accounts[1].address, "token": deployed.usdc.address}

    async def scenario() -> dict[str, int]:
        kinds: dict[str, int] = {}
        async with connect(ws_url(server), subprotocols=PROTOCOL) as ws:
            await acknowledged(ws)
            for n in range(2000):
                payload = {"query": ACCOUNT_CHANGED, "variables": variables}
                await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
            async with asyncio.timeout(30):
                while sum(kinds.values()) < 2000:
                    message: dict[str, Any] = json.loads(await ws.recv())
                    kinds[message["type"]] = kinds.get(message["type"], 0) + 1
                    if message["type"] == "error":
                        assert message["payload"][0]["message"] == "Subscription limit reached"
            await ws.send(json.dumps({"type": "ping"}))
            while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != "pong":
                pass  # the socket still works
        return kinds

    kinds = asyncio.run(scenario())
    assert kinds == {"next": 20, "error": 1980}  # MAX_SUBSCRIPTIONS = 20: each shows the account once
    assert_alive(server)


def test_a_reader_that_never_reads_holds_back_only_itself_and_is_dropped(server: Server) -> None:
    async def scenario() -> tuple[float, float]:
        async with connect(ws_url(server), subprotocols=PROTOCOL, max_queue=1, ping_interval=None) as ws:
            await acknowledged(ws)
            started = time.monotonic()
            # Pings the server must answer, none of whose pongs are read: once the buffers fill,
            # the server stops reading this socket rather than buffering without bound, and drops
            # it when its keepalive ping goes unanswered for WS_PING_MS.
            ping = json.dumps({"type": "ping", "payload": {"pad": "x" * 1000}})

            async def flood() -> None:
                while True:
                    await ws.send(ping)

            async def health() -> float:
                await asyncio.sleep(0.3)
                async with httpx.AsyncClient(timeout=5) as client:
                    asked = time.perf_counter()
                    assert (await client.get(server.url + "/health")).status_code == 200
                    return time.perf_counter() - asked

            flooding = asyncio.ensure_future(asyncio.wait_for(flood(), 10))
            answered = await health()
            with pytest.raises(ConnectionClosed):
                await flooding
            return answered, time.monotonic() - started

    health, dropped_after = asyncio.run(scenario())
    assert health < 1
    assert dropped_after < 5  # WS_PING_MS = 500: a ping, then as long again for its pong
    assert_alive(server)


def test_a_fragment_fan_out_sent_over_a_socket_is_refused_at_once(server: Server) -> None:
    async def scenario() -> tuple[dict[str, Any], float]:
        async with connect(ws_url(server), subprotocols=PROTOCOL) as ws:
            await acknowledged(ws)
            started = time.perf_counter()
            payload = {"query": fragment_fan_out(30)}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return message, time.perf_counter() - started

    message, seconds = asyncio.run(scenario())
    assert seconds < 1
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert_alive(server)

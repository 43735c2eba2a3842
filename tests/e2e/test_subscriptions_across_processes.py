"""A subscriber on one server process hears about a pay made through another: with PostgreSQL,
every process NOTIFYs its changes and LISTENs for everyone's (app.services.events.PostgresBus)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.e2e.conftest import PAY, Vouchers, open_marketplace, server_env
from tests.e2e.servers import Server, postgres_database
from tests.factories import Chain

PRICE = 10_000
DEPOSIT = 1_000_000
WAIT = 15.0  # seconds: a bound on each wait, not a latency requirement

ACCOUNT_CHANGED = """subscription($payer: Address!, $token: Address!) {
  accountChanged(payer: $payer, token: $token) { balance outstanding headroom }
}"""


def test_a_pay_through_one_server_updates_an_account_subscription_on_another(
    chain: Chain, tmp_path: Path
) -> None:
    with postgres_database() as database_url:
        env = server_env(chain, database_url, str(tmp_path))
        market = open_marketplace(chain, env, payers=1, creators=1, price=PRICE, deposit=DEPOSIT)
        payer, creator = market.payers[0], market.creators[0]
        voucher = Vouchers(chain).pay_input(payer, 0, 0, creator.address, PRICE)
        subscriber, cashier = (Server(env, tmp_path / f"server-{name}.log").start() for name in "ab")
        try:
            initial, update = asyncio.run(
                account_around_a_pay(subscriber.url, cashier.url, payer.address, chain.usdc.address, voucher)
            )
        finally:
            subscriber.stop()
            cashier.stop()

    assert initial == {"balance": str(DEPOSIT), "outstanding": "0", "headroom": str(DEPOSIT)}
    assert update == {"balance": str(DEPOSIT), "outstanding": str(PRICE), "headroom": str(DEPOSIT - PRICE)}


async def account_around_a_pay(
    subscriber_url: str, cashier_url: str, payer: str, token: str, voucher: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Subscribes to the payer's account on the subscriber, pays through the cashier, and returns
    the account the subscription showed first and the first different one it showed after."""
    url = "ws" + subscriber_url.removeprefix("http") + "/graphql"
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=WAIT) as ws:
        await send(ws, {"type": "connection_init", "payload": {}})
        assert await receive(ws) == {"type": "connection_ack"}
        variables = {"payer": payer, "token": token}
        await send(
            ws,
            {"id": "1", "type": "subscribe", "payload": {"query": ACCOUNT_CHANGED, "variables": variables}},
        )
        # The first state is sent once the subscription listens, so no change after it is missed.
        initial = await next_account(ws)

        async with httpx.AsyncClient(timeout=WAIT) as client:
            response = await client.post(
                cashier_url + "/graphql", json={"query": PAY, "variables": {"input": voucher}}
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        assert body["data"]["pay"]["__typename"] == "PaymentAccepted", body

        # A change only says "re-read": a repeated notification may show the same state again.
        update = initial
        while update == initial:
            update = await next_account(ws)
        await send(ws, {"id": "1", "type": "complete"})
    return initial, update


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message that is not a ping (answered with a pong, as the protocol asks)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message["type"] != "ping":
            return message
        await send(ws, {"type": "pong"})


async def next_account(ws: ClientConnection) -> dict[str, Any]:
    message = await receive(ws)
    assert (message["type"], message["id"]) == ("next", "1"), message
    assert "errors" not in message["payload"], message
    account: dict[str, Any] = message["payload"]["data"]["accountChanged"]
    return account

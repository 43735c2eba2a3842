"""Subscriptions over WebSocket (graphql-transport-ws), fed by the services' event bus."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eth_account.signers.local import LocalAccount
from starlette.testclient import WebSocketTestSession

from tests.api.conftest import PRICE, Api

ACCOUNT_CHANGED = """subscription($p: Address!, $t: Address!) {
  accountChanged(payer: $p, token: $t) { balance outstanding headroom }
}"""
RECEIPTS_CHANGED = "subscription($p: Address!) { receiptsChanged(payer: $p) { cumulativeAmount status } }"
EARNINGS_CHANGED = """subscription($p: Address!, $t: Address!) {
  earningsChanged(payee: $p, token: $t) { accepted withdrawable }
}"""


@contextmanager
def connected(api: Api, token: str | None = None) -> Iterator[WebSocketTestSession]:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        ws.send_json({"type": "connection_init", "payload": payload})
        assert ws.receive_json() == {"type": "connection_ack"}
        yield ws


def subscribe(ws: WebSocketTestSession, op_id: str, query: str, variables: dict[str, Any]) -> None:
    ws.send_json({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})


def receive(ws: WebSocketTestSession, op_id: str) -> dict[str, Any]:
    message: dict[str, Any] = ws.receive_json()
    assert message["id"] == op_id, message
    return message


def test_account_changed_sends_the_account_then_its_update_after_a_pay(
    funded: Api, payer: LocalAccount
) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    with connected(funded) as ws:
        subscribe(ws, "1", ACCOUNT_CHANGED, {"p": payer.address, "t": funded.usdc})
        first = receive(ws, "1")
        assert first["type"] == "next"
        assert first["payload"]["data"]["accountChanged"]["headroom"] == "1000000"

        assert funded.pay(pay_input)["__typename"] == "PaymentAccepted"

        update = receive(ws, "1")["payload"]["data"]["accountChanged"]
        assert update == {"balance": "1000000", "outstanding": str(PRICE), "headroom": str(1_000_000 - PRICE)}
        ws.send_json({"id": "1", "type": "complete"})


def test_account_changed_follows_deposits_the_indexer_sees(api: Api, payer: LocalAccount) -> None:
    with connected(api) as ws:
        subscribe(ws, "1", ACCOUNT_CHANGED, {"p": payer.address, "t": api.usdc})
        assert receive(ws, "1")["payload"]["data"]["accountChanged"]["balance"] == "0"
        api.deposit(payer, 5_000)
        assert receive(ws, "1")["payload"]["data"]["accountChanged"]["balance"] == "5000"


def test_receipts_changed_needs_an_authenticated_websocket(funded: Api, payer: LocalAccount) -> None:
    with connected(funded) as ws:
        subscribe(ws, "1", RECEIPTS_CHANGED, {"p": payer.address})
        message = receive(ws, "1")
        assert message["type"] == "next"
        error = message["payload"]["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"


def test_receipts_changed_refuses_someone_elses_receipts(
    funded: Api, payer: LocalAccount, stranger: LocalAccount
) -> None:
    with connected(funded, funded.sign_in(stranger)) as ws:
        subscribe(ws, "1", RECEIPTS_CHANGED, {"p": payer.address})
        error = receive(ws, "1")["payload"]["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN"


def test_receipts_changed_delivers_each_new_receipt_to_its_payer(funded: Api, payer: LocalAccount) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    with connected(funded, funded.sign_in(payer)) as ws:
        subscribe(ws, "r", RECEIPTS_CHANGED, {"p": payer.address})
        # accountChanged answers at once; once it has, the receipts subscription (started first) listens too.
        subscribe(ws, "a", ACCOUNT_CHANGED, {"p": payer.address, "t": funded.usdc})
        assert receive(ws, "a")["type"] == "next"

        funded.pay(pay_input)

        messages = [ws.receive_json(), ws.receive_json()]  # the receipt, and the account's update
        receipts = [m["payload"]["data"]["receiptsChanged"] for m in messages if m["id"] == "r"]
        assert receipts == [{"cumulativeAmount": str(PRICE), "status": "ACCEPTED"}]


def test_earnings_changed_tells_the_creator_about_a_sale(
    funded: Api, payer: LocalAccount, creator: LocalAccount
) -> None:
    with connected(funded, funded.sign_in(creator)) as ws:
        subscribe(ws, "1", EARNINGS_CHANGED, {"p": creator.address, "t": funded.usdc})
        assert receive(ws, "1")["payload"]["data"]["earningsChanged"] == {
            "accepted": "0",
            "withdrawable": "0",
        }
        funded.pay(funded.pay_input(payer, funded.voucher(payer)))
        update = receive(ws, "1")["payload"]["data"]["earningsChanged"]
        assert update == {"accepted": str(PRICE), "withdrawable": "0"}


def test_an_unknown_session_token_is_rejected_at_connection_init(api: Api) -> None:
    with api.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": "Bearer not-a-session"}})
        closed = ws.receive()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 4403


def test_a_query_over_the_websocket_is_answered_and_rate_limited_like_http(make_api: Any) -> None:
    api: Api = make_api(RATE_LIMIT_PER_MINUTE="1")
    with connected(api) as ws:
        subscribe(ws, "1", "{ me }", {})
        assert receive(ws, "1")["payload"] == {"data": {"me": None}}
        assert receive(ws, "1")["type"] == "complete"
        subscribe(ws, "2", "{ me }", {})
        refused = receive(ws, "2")
        assert refused["type"] == "error"  # refused before execution: graphql-transport-ws's error message
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"

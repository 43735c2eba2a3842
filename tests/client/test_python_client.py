"""The Python client (app.client) against a real server process, as a dApp uses it: paying,
resynchronising, session keys by grant, gasless deposits, sign-in, subscriptions and refusals.
Its checks before signing, against a fake server, are in test_python_client_checks.py."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from app.chain.anvil import free_port
from app.client import Micropayments, MicropaymentsError, TransportError
from app.core.eip712 import Entry, PayerVoucher, digest
from app.core.types import to_address
from tests.client.fake_server import wire
from tests.e2e.conftest import open_marketplace, server_env
from tests.e2e.servers import Server
from tests.factories import Chain, new_key, sign_digest

PRICE = 10_000
DEPOSIT = 1_000_000
ARTICLE = "article-0"
T = TypeVar("T")


@dataclass(frozen=True)
class Market:
    url: str
    payer: LocalAccount  # has DEPOSIT on the hub and no ETH
    chain: Chain


@pytest.fixture
def market(chain: Chain, tmp_path: Path) -> Iterator[Market]:
    """A server with an operator key, one funded payer and one creator selling ARTICLE at PRICE."""
    env = server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path))
    marketplace = open_marketplace(chain, env, payers=1, creators=1, price=PRICE, deposit=DEPOSIT)
    server = Server(env, tmp_path / "server.log").start()
    try:
        yield Market(url=server.url, payer=marketplace.payers[0], chain=chain)
    finally:
        server.stop()


def eventually(read: Callable[[], T], expected: T, bound: float = 30.0) -> T:
    """Reads until the value is `expected` or `bound` seconds have passed; returns the last value."""
    deadline = time.monotonic() + bound
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


Forward = Callable[[], httpx.Response]


class Proxy(httpx.BaseTransport):
    """The real server behind a hook: `hook(body, forward)` answers each request, usually by
    forwarding it to the server, sometimes by doing something else before, after or instead."""

    def __init__(self, hook: Callable[[dict[str, Any], Forward], httpx.Response]) -> None:
        self.inner = httpx.HTTPTransport()
        self.hook = hook

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        def forward() -> httpx.Response:
            response = self.inner.handle_request(request)
            response.read()
            return response

        return self.hook(json.loads(request.content), forward)

    def close(self) -> None:
        self.inner.close()


def is_pay(body: dict[str, Any]) -> bool:
    return "pay(input:" in body["query"]


def test_three_pays_lower_the_headroom_by_three_prices(market: Market) -> None:
    with Micropayments(market.url, key=market.payer.key) as mp:
        assert mp.account()["headroom"] == DEPOSIT
        receipts = [mp.pay(ARTICLE) for _ in range(3)]
        assert [r["cumulativeAmount"] for r in receipts] == [PRICE, 2 * PRICE, 3 * PRICE]
        assert [r["price"] for r in receipts] == [PRICE] * 3
        assert mp.account()["headroom"] == DEPOSIT - 3 * PRICE


def test_a_client_whose_voucher_went_stale_resynchronises_and_pays(market: Market) -> None:
    phone = Micropayments(market.url, key=market.payer.key)
    phone_paid: list[dict[str, Any]] = []

    def phone_pays_meanwhile(body: dict[str, Any], forward: Forward) -> httpx.Response:
        response = forward()
        if "voucherToSign" in body["query"] and not phone_paid:  # the laptop's voucher is now stale
            phone_paid.append(phone.pay(ARTICLE))
        return response

    with (
        phone,
        Micropayments(market.url, key=market.payer.key, transport=Proxy(phone_pays_meanwhile)) as laptop,
    ):
        receipt = laptop.pay(ARTICLE)
        assert phone_paid[0]["cumulativeAmount"] == PRICE
        assert receipt["cumulativeAmount"] == 2 * PRICE  # signed again above the phone's voucher
        assert laptop.account()["headroom"] == DEPOSIT - 2 * PRICE


@pytest.mark.parametrize("forgery", ["signed by a stranger", "on another lane"])
def test_a_mismatch_the_server_cannot_prove_is_not_signed(market: Market, forgery: str) -> None:
    stranger = new_key()

    pays: list[dict[str, Any]] = []

    def forged_mismatch(body: dict[str, Any], forward: Forward) -> httpx.Response:
        if not is_pay(body):
            return forward()
        pays.append(body)
        sent = body["variables"]["i"]
        # A latest voucher 40 prices further along than what the payer signed.
        entries = tuple(Entry(to_address(e["payee"]), 40 * PRICE) for e in sent["entries"])
        lane = int(sent["lane"]) + (1 if forgery == "on another lane" else 0)
        latest = PayerVoucher(to_address(sent["payer"]), to_address(sent["token"]), lane, entries, bytes(32))
        signer = stranger if forgery == "signed by a stranger" else market.payer
        signature = sign_digest(signer.key, digest(market.chain.domain, latest))
        mismatch = {
            "__typename": "CumulativeMismatch", "code": "CUMULATIVE_MISMATCH", "message": "resynchronise",
            "latest": {
                "payer": latest.payer, "token": latest.token, "lane": str(lane),
                "entries": wire(entries),
                "purchase": "0x" + bytes(32).hex(), "signature": "0x" + signature.hex(),
                "acknowledgement": "0x", "signer": signer.address,
            },
        }  # fmt: skip
        return httpx.Response(200, json={"data": {"pay": mismatch}})

    with Micropayments(market.url, key=market.payer.key, transport=Proxy(forged_mismatch)) as mp:
        with pytest.raises(MicropaymentsError) as refused:
            mp.pay(ARTICLE)
        assert refused.value.code == "UNVERIFIED_RESYNC"
        assert len(pays) == 1  # nothing signed above what the server claims
        assert mp.account()["headroom"] == DEPOSIT


def test_a_pay_whose_answer_is_lost_is_resent_and_charged_once(market: Market) -> None:
    lost: list[httpx.Response] = []

    def lose_the_first_answer(body: dict[str, Any], forward: Forward) -> httpx.Response:
        response = forward()
        if is_pay(body) and not lost:
            lost.append(response)  # the server accepted it; the client never hears so
            raise httpx.ReadError("connection reset")
        return response

    with Micropayments(market.url, key=market.payer.key, transport=Proxy(lose_the_first_answer)) as mp:
        receipt = mp.pay(ARTICLE)
        assert receipt["id"] == lost[0].json()["data"]["pay"]["receipt"]["id"]
        assert mp.account()["headroom"] == DEPOSIT - PRICE


def test_pay_after_a_transport_error_completes_the_interrupted_payment(market: Market) -> None:
    answers: list[httpx.Response] = []

    def lose_the_first_answer(body: dict[str, Any], forward: Forward) -> httpx.Response:
        response = forward()
        if is_pay(body):
            answers.append(response)
            if len(answers) == 1:
                raise httpx.ReadError("connection reset")
        return response

    proxy = Proxy(lose_the_first_answer)
    with Micropayments(market.url, key=market.payer.key, retries=0, transport=proxy) as mp:
        with pytest.raises(TransportError) as failed:
            mp.pay(ARTICLE)
        assert failed.value.code == "NETWORK"
        receipt = mp.pay(ARTICLE)  # the user tries again: the same payment, not a second one
        assert receipt["id"] == answers[0].json()["data"]["pay"]["receipt"]["id"]
        assert mp.account()["headroom"] == DEPOSIT - PRICE
        assert mp.pay(ARTICLE)["cumulativeAmount"] == 2 * PRICE  # and then life goes on


def test_a_session_key_authorised_by_one_grant_pays_at_once_without_the_wallet_key(market: Market) -> None:
    payer = market.payer
    with Micropayments(market.url, key=payer.key) as wallet:
        session, key = wallet.authorize_session_key(max_total=5 * PRICE)
        with Micropayments(market.url, key=session.key, payer=payer.address) as app:
            receipts = [app.pay(ARTICLE), app.pay(ARTICLE)]  # no wait for any chain event
            assert [(r["payer"], r["signer"]) for r in receipts] == [(payer.address, session.address)] * 2
            assert {r["lane"] for r in receipts} == {key["lane"]}
            assert app.account()["headroom"] == DEPOSIT - 2 * PRICE
            with pytest.raises(MicropaymentsError) as refused:
                app.authorize_session_key(max_total=PRICE)
            assert refused.value.code == "WALLET_KEY_REQUIRED"
        keys = wallet.session_keys()
    assert [(k["signer"], k["maxTotal"], k["spent"]) for k in keys] == [
        (session.address, 5 * PRICE, 2 * PRICE)
    ]
    assert market.chain.w3.eth.get_balance(payer.address) == 0  # no transaction at all


def test_a_gasless_permit_deposit_in_the_hubs_first_token_credits_the_balance(market: Market) -> None:
    chain, fresh = market.chain, new_key()
    chain.send(chain.usdc.functions.mint(fresh.address, 50_000), chain.accounts[1])  # not the operator
    with Micropayments(market.url, key=fresh.key) as mp:
        assert mp.account(chain.usdc.address)["balance"] == 0
        tx_hash = mp.deposit_with_permit(None, 50_000)
        assert eventually(lambda: mp.account(chain.usdc.address)["balance"], 50_000) == 50_000
    assert chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert chain.w3.eth.get_balance(fresh.address) == 0
    assert chain.usdc.functions.balanceOf(fresh.address).call() == 0


def test_signing_in_lists_own_receipts_newest_first(market: Market) -> None:
    with Micropayments(market.url, key=market.payer.key) as mp:
        paid = [mp.pay(ARTICLE) for _ in range(2)]
        with pytest.raises(MicropaymentsError) as refused:
            mp.receipts()
        assert refused.value.code == "UNAUTHENTICATED"
        token = mp.sign_in()
        assert token == mp.session_token
        receipts = mp.receipts()
    assert [r["id"] for r in receipts] == [r["id"] for r in reversed(paid)]
    assert [r["status"] for r in receipts] == ["ACCEPTED", "ACCEPTED"]


def test_watch_account_yields_the_account_then_its_update_after_a_pay(market: Market) -> None:
    async def watch_a_pay(mp: Micropayments) -> list[dict[str, Any]]:
        async with aclosing(mp.watch_account()) as accounts:
            first = await asyncio.wait_for(anext(accounts), 30)
            await asyncio.to_thread(mp.pay, ARTICLE)
            return [first, await asyncio.wait_for(anext(accounts), 30)]

    with Micropayments(market.url, key=market.payer.key) as mp:
        first, update = asyncio.run(watch_a_pay(mp))
    assert (first["headroom"], first["outstanding"]) == (DEPOSIT, 0)
    assert (update["headroom"], update["outstanding"]) == (DEPOSIT - PRICE, PRICE)


def test_paying_for_an_unknown_resource_raises_unknown_resource(market: Market) -> None:
    with Micropayments(market.url, key=market.payer.key) as mp:
        with pytest.raises(MicropaymentsError) as refused:
            mp.pay("no-such-article")
        assert refused.value.code == "UNKNOWN_RESOURCE"
        assert refused.value.fields == {"resource": "no-such-article"}


def test_a_price_above_max_price_is_not_signed(market: Market) -> None:
    with Micropayments(market.url, key=market.payer.key) as mp:
        with pytest.raises(MicropaymentsError) as refused:
            mp.pay(ARTICLE, max_price=PRICE - 1)
        assert (refused.value.code, refused.value.fields) == ("PRICE_ABOVE_MAX", {"price": PRICE})
        assert mp.account()["headroom"] == DEPOSIT


def test_an_unreachable_server_raises_a_transport_error() -> None:
    unreachable = Micropayments(f"http://127.0.0.1:{free_port()}", key=new_key().key, retries=0)
    with unreachable, pytest.raises(TransportError) as failed:
        unreachable.account("0x" + "11" * 20)
    assert failed.value.code == "NETWORK"

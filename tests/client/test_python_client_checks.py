"""The Python client's checks before it signs (app.client), against a fake server that lies
(tests/client/fake_server.py): no chain, no server process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.client import Micropayments, MicropaymentsError, raised
from app.core.eip712 import Entry, PayerVoucher, digest
from app.core.types import to_address
from tests.client.fake_server import DOMAIN, OTHER_TOKEN, PAYEES, PRICE, FakeServer, wire

URL = "http://fake.test"


def client(server: FakeServer, key: LocalAccount | None = None, payer: str | None = None) -> Micropayments:
    return Micropayments(URL, key=key or Account.create(), payer=payer, transport=server.transport())


def test_a_new_payee_is_inserted_in_address_order_and_a_known_one_raised_in_place() -> None:
    b, a, c = PAYEES
    entries = raised(raised(raised((), b, 5), c, 7), a, 1)
    assert entries == (Entry(a, 1), Entry(b, 5), Entry(c, 7))
    assert raised(entries, b, 5) == (Entry(a, 1), Entry(b, 10), Entry(c, 7))


def test_pay_signs_the_lane_raised_by_the_price_with_an_idempotency_key() -> None:
    server = FakeServer()
    with client(server) as mp:
        receipts = [mp.pay("article-0"), mp.pay("article-1"), mp.pay("article-0")]
    assert [r["cumulativeAmount"] for r in receipts] == [PRICE, PRICE, 2 * PRICE]
    assert receipts[2]["voucher"]["entries"] == [
        {"payee": PAYEES[1], "cumulativeAmount": PRICE},
        {"payee": PAYEES[0], "cumulativeAmount": 2 * PRICE},
    ]
    pays = [variables for name, variables in server.calls if name == "pay"]
    for sent in pays:
        i = sent["i"]
        entries = tuple(Entry(to_address(e["payee"]), int(e["cumulativeAmount"])) for e in i["entries"])
        voucher = PayerVoucher(
            i["payer"], i["token"], int(i["lane"]), entries, bytes.fromhex(i["purchase"][2:])
        )
        assert sent["k"] == "pay:" + digest(DOMAIN, voucher).hex()


def set_message(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda v: v["typedData"]["message"].update(fields)


def previous_of(
    previous: list[Entry], entries: list[Entry] | None = None
) -> Callable[[dict[str, Any]], None]:
    def tamper(v: dict[str, Any]) -> None:
        v["previousEntries"] = wire(tuple(previous))
        if entries is not None:
            v["typedData"]["message"]["entries"] = wire(tuple(entries))

    return tamper


P0, P1, P2 = PAYEES
LIES: dict[str, Callable[[dict[str, Any]], None]] = {
    "of another payer": set_message(payer=P2),
    "in another token than the resource's": set_message(token=OTHER_TOKEN),
    "raising the payee by twice the price": set_message(entries=wire((Entry(P0, 2 * PRICE),))),
    "raising another payee too": previous_of([Entry(P1, 5)], [Entry(P1, 6), Entry(P0, PRICE)]),
    "dropping a payee of the previous vector": previous_of([Entry(P1, 5)]),
    "with entries out of address order": previous_of([Entry(P2, 5)], [Entry(P2, 5), Entry(P0, PRICE)]),
    "on another lane than announced": lambda v: v.update(lane="7"),
    "in another hub's domain": lambda v: v["typedData"]["domain"].update(verifyingContract=OTHER_TOKEN),
    "with an extra field in its type": lambda v: v["typedData"]["types"]["PayerVoucher"].append(
        {"name": "tip", "type": "uint256"}
    ),
    "at a price of 0": lambda v: v["resource"].update(price="0"),
    "with a malformed amount": set_message(entries=[{"payee": P0, "cumulativeAmount": "ten"}]),
    "adding a 33rd payee": previous_of(
        [Entry(to_address(f"0x{n + 0x40:02x}" + "00" * 19), 1) for n in range(32)],
        [Entry(to_address(f"0x{n + 0x40:02x}" + "00" * 19), 1) for n in range(32)] + [Entry(P0, PRICE)],
    ),
}


@pytest.mark.parametrize("lie", LIES)
def test_a_voucher_that_pays_more_than_the_action_is_not_signed(lie: str) -> None:
    def tamper(v: dict[str, Any]) -> dict[str, Any]:
        LIES[lie](v)
        return v

    server = FakeServer(voucher=tamper)
    with client(server) as mp, pytest.raises(MicropaymentsError) as refused:
        mp.pay("article-0")
    assert refused.value.code == "UNEXPECTED_TYPED_DATA"
    assert "pay" not in server.operations()


def test_a_receipt_acknowledged_by_someone_else_is_refused() -> None:
    server = FakeServer()
    server.operator = Account.create()  # the server signs with another key than it announces
    announced = Account.create()
    server_config = server.config
    server.config = lambda v: {**server_config(v), "operator": announced.address}  # type: ignore[method-assign]
    with client(server) as mp, pytest.raises(MicropaymentsError) as refused:
        mp.pay("article-0")
    assert refused.value.code == "UNACKNOWLEDGED"


def test_a_mismatch_proven_by_the_payers_own_voucher_is_resynchronised_once() -> None:
    server, key = FakeServer(), Account.create()
    phone = client(server, key)
    interleaved: list[bool] = []

    def phone_pays_first(sent: dict[str, Any]) -> None:
        if not interleaved:
            interleaved.append(True)
            phone.pay("article-1")  # between the laptop's voucherToSign and its pay

    with phone, client(server, key) as laptop:
        server.pay = phone_pays_first
        receipt = laptop.pay("article-0")
    assert receipt["voucher"]["entries"] == [
        {"payee": P1, "cumulativeAmount": PRICE},
        {"payee": P0, "cumulativeAmount": PRICE},
    ]
    assert server.operations().count("pay") == 3  # the phone's, the laptop's refused one, its retry


def test_a_mismatch_the_payer_never_signed_is_not_resynchronised() -> None:
    forger = Account.create()

    def forged(sent: dict[str, Any]) -> dict[str, Any]:
        entries = (Entry(P0, 10**9),)
        proof = PayerVoucher(sent["payer"], sent["token"], int(sent["lane"]), entries, bytes(32))
        signature = forger.unsafe_sign_hash(digest(DOMAIN, proof)).signature
        latest = {"payer": proof.payer, "token": proof.token, "lane": sent["lane"], "entries": wire(entries)}
        latest |= {"purchase": "0x" + bytes(32).hex(), "signature": "0x" + bytes(signature).hex()}
        return {"__typename": "CumulativeMismatch", "code": "CUMULATIVE_MISMATCH", "message": "stale"} | {
            "latest": latest
        }

    server = FakeServer(pay=forged)
    with client(server) as mp, pytest.raises(MicropaymentsError) as refused:
        mp.pay("article-0")
    assert refused.value.code == "UNVERIFIED_RESYNC"
    assert server.operations().count("pay") == 1


def test_a_session_key_authorised_by_a_grant_pays_at_once_on_its_lane() -> None:
    server, wallet = FakeServer(), Account.create()
    with client(server, wallet) as mp:
        session, key = mp.authorize_session_key(max_total=10 * PRICE)
    assert (key["signer"], key["maxTotal"], key["lane"]) == (session.address, 10 * PRICE, 1)
    with client(server, session, payer=wallet.address) as app:
        receipt = app.pay("article-0")
        with pytest.raises(MicropaymentsError) as refused:
            app.authorize_session_key(max_total=PRICE)
    assert (receipt["payer"], receipt["signer"], receipt["lane"]) == (wallet.address, session.address, 1)
    assert refused.value.code == "WALLET_KEY_REQUIRED"
    asked = [v for name, v in server.calls if name == "voucherToSign"]
    assert asked[0]["s"] == session.address


GRANT_LIES: dict[str, Callable[[dict[str, Any]], None]] = {
    "a higher cap": lambda t: t["message"].update(maxTotal=str(100 * PRICE)),
    "another signer": lambda t: t["message"].update(signer=P0),
    "another payer": lambda t: t["message"].update(payer=P0),
    "a later expiry": lambda t: t["message"].update(validUntil="1900000001"),
    "another token": lambda t: t["message"].update(token=OTHER_TOKEN),
    "another hub": lambda t: t["domain"].update(verifyingContract=P0),
}


@pytest.mark.parametrize("lie", GRANT_LIES)
def test_a_grant_other_than_asked_is_not_signed(lie: str) -> None:
    def tamper(typed: dict[str, Any]) -> dict[str, Any]:
        GRANT_LIES[lie](typed)
        return typed

    server = FakeServer(grant=tamper)
    with client(server) as mp, pytest.raises(MicropaymentsError) as refused:
        mp.authorize_session_key(max_total=PRICE, valid_until=1_900_000_000)
    assert refused.value.code == "UNEXPECTED_TYPED_DATA"
    assert "authorizeSessionKey" not in server.operations()


def test_the_client_imports_nothing_of_the_server() -> None:
    """A dApp installs eth-account and httpx, not the server: app.client needs only app.core."""
    probe = "import sys, app.client; print(' '.join(sorted(m for m in sys.modules if m.startswith('app.'))))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert [m for m in loaded.split() if not m.startswith(("app.client", "app.core"))] == []

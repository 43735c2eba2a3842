"""Paying through the API: voucherToSign -> sign -> pay, and every refusal as part of the schema."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from tests.api.conftest import ACCOUNT, PRICE, RESOURCE, Api

PAY_BATCH = """
mutation($inputs: [PayInput!]!) {
  payBatch(inputs: $inputs) {
    __typename
    ... on PaymentAccepted { receipt { id cumulativeAmount } }
    ... on Refusal { code message }
  }
}
"""


def headroom(api: Api, payer: LocalAccount) -> int:
    return int(api.data(ACCOUNT, {"p": payer.address, "t": api.usdc})["account"]["headroom"])


def test_a_voucher_from_voucher_to_sign_signed_by_the_payer_is_accepted(
    funded: Api, payer: LocalAccount, creator: LocalAccount
) -> None:
    typed = funded.voucher(payer)
    assert typed["primaryType"] == "PayerVoucher"
    # amounts are strings: exact in any JSON parser
    assert typed["message"]["entries"] == [{"payee": creator.address, "cumulativeAmount": str(PRICE)}]

    result = funded.pay(funded.pay_input(payer, typed))

    assert result["__typename"] == "PaymentAccepted", result
    receipt = result["receipt"]
    assert receipt["payer"] == payer.address
    assert receipt["payee"] == creator.address
    assert (receipt["cumulativeAmount"], receipt["price"], receipt["status"]) == (
        str(PRICE),
        str(PRICE),
        "ACCEPTED",
    )
    assert receipt["signer"] == payer.address
    assert len(bytes.fromhex(receipt["acknowledgement"].removeprefix("0x"))) == 65
    assert headroom(funded, payer) == 1_000_000 - PRICE


def test_the_next_voucher_to_sign_continues_from_the_accepted_vector(
    funded: Api, payer: LocalAccount, creator: LocalAccount, stranger: LocalAccount
) -> None:
    funded.pay(funded.pay_input(payer, funded.voucher(payer)))
    funded.list_resource(stranger, "article-2", 3 * PRICE)
    typed = funded.voucher(payer, "article-2")
    assert sorted(typed["message"]["entries"], key=lambda e: e["payee"]) == sorted(
        [
            {"payee": creator.address, "cumulativeAmount": str(PRICE)},
            {"payee": stranger.address, "cumulativeAmount": str(3 * PRICE)},
        ],
        key=lambda e: e["payee"],
    )
    assert funded.pay(funded.pay_input(payer, typed, "article-2"))["__typename"] == "PaymentAccepted"
    typed = funded.voucher(payer)
    assert {"payee": creator.address, "cumulativeAmount": str(2 * PRICE)} in typed["message"]["entries"]


def test_paying_the_same_voucher_twice_returns_the_same_receipt_and_charges_once(
    funded: Api, payer: LocalAccount
) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    first = funded.pay(pay_input)
    again = funded.pay(pay_input)
    assert again["__typename"] == "PaymentAccepted"
    assert again["receipt"]["id"] == first["receipt"]["id"]
    assert headroom(funded, payer) == 1_000_000 - PRICE


def test_an_idempotency_key_replays_its_receipt_and_refuses_another_voucher(
    funded: Api, payer: LocalAccount
) -> None:
    first_input = funded.pay_input(payer, funded.voucher(payer))
    first = funded.pay(first_input, idempotency_key="order-42")
    assert funded.pay(first_input, idempotency_key="order-42")["receipt"]["id"] == first["receipt"]["id"]

    other = funded.pay(funded.pay_input(payer, funded.voucher(payer)), idempotency_key="order-42")
    assert other["__typename"] == "Refused"
    assert other["code"] == "IDEMPOTENCY_CONFLICT"


def test_an_idempotency_key_that_is_too_long_is_refused(funded: Api, payer: LocalAccount) -> None:
    result = funded.pay(funded.pay_input(payer, funded.voucher(payer)), idempotency_key="k" * 129)
    assert (result["__typename"], result["code"]) == ("Refused", "INVALID_INPUT")


def test_a_wrong_cumulative_amount_returns_the_latest_voucher_to_resynchronise(
    funded: Api, payer: LocalAccount, creator: LocalAccount
) -> None:
    accepted_input = funded.pay_input(payer, funded.voucher(payer))
    funded.pay(accepted_input)
    stale = funded.voucher(payer)
    stale["message"]["entries"][0]["cumulativeAmount"] = str(PRICE)  # a client that lost its state

    mismatch = funded.pay(funded.pay_input(payer, stale))

    assert mismatch["__typename"] == "CumulativeMismatch", mismatch
    assert mismatch["code"] == "CUMULATIVE_MISMATCH"
    assert mismatch["expected"] == [{"payee": creator.address, "cumulativeAmount": str(2 * PRICE)}]
    latest = mismatch["latest"]
    assert latest["entries"] == [{"payee": creator.address, "cumulativeAmount": str(PRICE)}]
    assert latest["signature"] == accepted_input["signature"]
    assert latest["purchase"] == accepted_input["purchase"]

    stale["message"]["entries"] = mismatch["expected"]
    assert funded.pay(funded.pay_input(payer, stale))["__typename"] == "PaymentAccepted"


def test_a_signature_with_v_0_is_refused_as_the_hub_would_refuse_it(funded: Api, payer: LocalAccount) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    signature = bytes.fromhex(pay_input["signature"][2:])
    pay_input["signature"] = "0x" + (signature[:64] + bytes([signature[64] - 27])).hex()
    result = funded.pay(pay_input)
    assert (result["__typename"], result["code"]) == ("Refused", "BAD_SIGNATURE")
    assert headroom(funded, payer) == 1_000_000


def test_a_session_key_pays_right_after_its_grant_without_a_transaction(
    funded: Api, payer: LocalAccount
) -> None:
    key = Account.create()
    session = funded.authorize_key(payer, key, max_total=2 * PRICE)
    assert (session["signer"], session["maxTotal"], session["spent"]) == (key.address, str(2 * PRICE), "0")

    typed = funded.voucher(payer, signer=key)
    assert typed["message"]["lane"] == session["lane"]
    first = funded.pay(funded.pay_input(key, typed))
    assert first["__typename"] == "PaymentAccepted", first
    assert first["receipt"]["signer"] == key.address

    funded.pay(funded.pay_input(key, funded.voucher(payer, signer=key)))
    over = funded.pay(funded.pay_input(key, funded.voucher(payer, signer=key)))
    assert (over["__typename"], over["code"]) == ("Refused", "SIGNER_CAP_EXCEEDED")


def test_a_voucher_beyond_the_headroom_is_refused_as_insufficient_funds(
    api: Api, payer: LocalAccount, creator: LocalAccount
) -> None:
    api.deposit(payer, PRICE - 1)
    api.list_resource(creator)
    result = api.pay(api.pay_input(payer, api.voucher(payer)))
    assert result == {
        "__typename": "InsufficientFunds",
        "code": "INSUFFICIENT_FUNDS",
        "message": result["message"],
        "headroom": str(PRICE - 1),
        "price": str(PRICE),
    }


def test_a_voucher_signed_by_someone_else_is_refused_as_a_bad_signature(
    funded: Api, payer: LocalAccount, stranger: LocalAccount
) -> None:
    result = funded.pay(funded.pay_input(stranger, funded.voucher(payer)))
    assert (result["__typename"], result["code"]) == ("Refused", "BAD_SIGNATURE")
    assert headroom(funded, payer) == 1_000_000


def test_a_signature_of_the_wrong_length_is_refused_as_a_bad_signature(
    funded: Api, payer: LocalAccount
) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    pay_input["signature"] = "0x" + "ab" * 10
    result = funded.pay(pay_input)
    assert (result["__typename"], result["code"]) == ("Refused", "BAD_SIGNATURE")


def test_paying_for_an_unknown_resource_is_refused(funded: Api, payer: LocalAccount) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer), resource_id="no-such-article")
    result = funded.pay(pay_input)
    assert result["__typename"] == "Refused"
    assert result["code"] == "UNKNOWN_RESOURCE"
    assert result["fields"] == {"resource": "no-such-article"}


def test_voucher_to_sign_for_an_unknown_resource_is_an_error_with_its_code(
    funded: Api, payer: LocalAccount
) -> None:
    error = funded.error(
        'query($p: Address!) { voucherToSign(payer: $p, resourceId: "nope") { lane } }',
        {"p": payer.address},
    )
    assert error["extensions"]["code"] == "UNKNOWN_RESOURCE"
    assert "nope" in error["message"]


def test_an_amount_above_uint128_is_refused_by_the_server(funded: Api, payer: LocalAccount) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    pay_input["entries"][0]["cumulativeAmount"] = str(2**128)
    result = funded.pay(pay_input)
    assert (result["__typename"], result["code"]) == ("Refused", "INVALID_INPUT")
    assert "2^128-1" in result["message"]


def test_pay_batch_accepts_the_good_voucher_and_refuses_the_bad_one(
    funded: Api, payer: LocalAccount, stranger: LocalAccount
) -> None:
    good = funded.pay_input(payer, funded.voucher(payer))
    bad = funded.pay_input(stranger, funded.voucher(payer))  # not the payer's signature

    results = funded.data(PAY_BATCH, {"inputs": [good, bad]})["payBatch"]

    assert results[0]["__typename"] == "PaymentAccepted"
    assert results[0]["receipt"]["cumulativeAmount"] == str(PRICE)
    assert (results[1]["__typename"], results[1]["code"]) == ("Refused", "BAD_SIGNATURE")
    assert headroom(funded, payer) == 1_000_000 - PRICE


def test_pay_batch_beyond_max_batch_is_refused_as_a_whole(make_api: Any, payer: LocalAccount) -> None:
    api: Api = make_api(MAX_BATCH="1")
    signer = Account.create()
    some_input = {
        "payer": payer.address,
        "token": api.usdc,
        "lane": "0",
        "entries": [{"payee": signer.address, "cumulativeAmount": "1"}],
        "purchase": "0x" + "00" * 32,
        "signature": "0x" + "00" * 65,
        "resourceId": RESOURCE,
    }
    error = api.error(PAY_BATCH, {"inputs": [some_input, some_input]})
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "at most 1" in error["message"]

"""The HTTP 402 paywall against a real server process (`python -m app serve` with the example paid
API mounted at /example): its 402 body, paying with the Python client's PaywallAuth, and refusals."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from app.client import Micropayments, MicropaymentsError, PaywallAuth
from app.client.checks import next_voucher
from app.core.eip712 import Entry, PayerVoucher, typed_data
from app.core.types import to_address
from app.examples import paid_api
from tests.paywall.conftest import DEPOSIT, PRICE, PaidApi


def decoded(header: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.b64decode(header))
    return result


def test_a_free_route_needs_no_payment(api: PaidApi) -> None:
    assert httpx.get(api.url + "/hello").json() == {"hello": "free for everyone"}


def test_a_paid_route_answers_402_with_x402_requirements(api: PaidApi) -> None:
    anonymous = httpx.get(api.url + "/joke")
    assert anonymous.status_code == 402
    body = anonymous.json()
    assert (body["x402Version"], body["code"]) == (1, "PAYMENT_REQUIRED")
    [requirement] = body["accepts"]
    assert requirement["scheme"] == "micropayment-lane-v2"
    assert requirement["network"] == f"eip155:{api.chain.domain.chain_id}"
    assert requirement["maxAmountRequired"] == str(PRICE)
    assert requirement["payTo"] == api.creator.address
    assert requirement["asset"] == api.chain.usdc.address
    assert requirement["resource"] == api.url + "/joke"
    assert requirement["extra"]["resourceId"] == paid_api.JOKE
    assert requirement["extra"]["access"] == "PER_USE"
    assert requirement["extra"]["voucherToSign"] is None  # no payer named yet
    named = httpx.get(api.url + "/joke", headers={"X-PAYER": api.payer.address}).json()
    to_sign = named["accepts"][0]["extra"]["voucherToSign"]
    purchase = next_voucher(to_sign, to_address(api.payer.address), paid_api.JOKE, api.chain.domain)
    assert purchase.price == PRICE


def test_paying_per_use_charges_every_call_and_returns_the_acknowledged_receipt(api: PaidApi) -> None:
    auth = PaywallAuth(api.payer.key, max_price=PRICE)
    with httpx.Client(auth=auth) as client:
        first = client.get(api.url + "/joke")
        second = client.get(api.url + "/joke")
    assert first.status_code == second.status_code == 200
    assert "joke" in first.json()
    receipt = decoded(first.headers["X-PAYMENT-RESPONSE"])
    assert (receipt["success"], receipt["charged"], receipt["transaction"]) == (True, str(PRICE), None)
    assert [r["charged"] for r in auth.receipts] == [PRICE, PRICE]
    assert [r["cumulativeAmount"] for r in auth.receipts] == [str(PRICE), str(2 * PRICE)]
    assert api.headroom() == DEPOSIT - 2 * PRICE


def test_the_same_x_payment_twice_is_charged_once(api: PaidApi) -> None:
    auth = PaywallAuth(api.payer.key)
    with httpx.Client(auth=auth) as client:
        paid = client.get(api.url + "/joke")
    header = paid.request.headers["X-PAYMENT"]
    again = httpx.get(api.url + "/joke", headers={"X-PAYMENT": header})
    assert again.status_code == 402
    assert again.json()["code"] == "PAYMENT_ALREADY_USED"
    assert again.json()["fields"]["receipt"] == auth.receipts[0]["id"]
    assert api.headroom() == DEPOSIT - PRICE


def test_a_purchase_read_twice_is_charged_once(api: PaidApi) -> None:
    auth = PaywallAuth(api.payer.key)
    with httpx.Client(auth=auth) as client:
        first = client.get(api.url + "/article")
        second = client.get(api.url + "/article")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert [r["charged"] for r in auth.receipts] == [PRICE, 0]
    assert auth.receipts[0]["id"] == auth.receipts[1]["id"]
    assert api.headroom() == DEPOSIT - PRICE
    owned = httpx.get(api.url + "/article", headers={"X-PAYER": api.payer.address}).json()
    assert (owned["code"], owned["fields"]["receipt"]) == ("ALREADY_OWNED", auth.receipts[0]["id"])


def test_a_time_pass_is_paid_once_while_it_runs(api: PaidApi) -> None:
    auth = PaywallAuth(api.payer.key)
    with httpx.Client(auth=auth) as client:
        assert client.get(api.url + "/ad-free").status_code == 200
        assert client.get(api.url + "/ad-free").status_code == 200
    assert [r["charged"] for r in auth.receipts] == [PRICE, 0]


def test_an_underpaid_x_payment_is_refused_with_a_clear_402(api: PaidApi) -> None:
    to_sign = httpx.get(api.url + "/joke", headers={"X-PAYER": api.payer.address}).json()
    message = to_sign["accepts"][0]["extra"]["voucherToSign"]["typedData"]["message"]
    message["entries"][0]["cumulativeAmount"] = str(PRICE - 1)
    entries = tuple(Entry(to_address(e["payee"]), int(e["cumulativeAmount"])) for e in message["entries"])
    voucher = PayerVoucher(
        to_address(message["payer"]), to_address(message["token"]), int(message["lane"]), entries,
        bytes.fromhex(message["purchase"][2:]),
    )  # fmt: skip
    signed = api.payer.sign_typed_data(full_message=typed_data(api.chain.domain, voucher))
    header = _x_payment(message, "0x" + bytes(signed.signature).hex(), paid_api.JOKE)
    refused = httpx.get(api.url + "/joke", headers={"X-PAYMENT": header})
    assert refused.status_code == 402
    assert refused.json()["code"] == "CUMULATIVE_MISMATCH"
    assert refused.json()["accepts"][0]["maxAmountRequired"] == str(PRICE)
    assert api.headroom() == DEPOSIT


def test_a_malformed_x_payment_is_refused_with_a_clear_402(api: PaidApi) -> None:
    refused = httpx.get(api.url + "/joke", headers={"X-PAYMENT": "not base64 json"})
    assert refused.status_code == 402
    assert refused.json()["code"] == "INVALID_INPUT"
    assert "X-PAYMENT must be base64 JSON" in refused.json()["error"]


def test_a_forged_signature_is_refused(api: PaidApi) -> None:
    to_sign = httpx.get(api.url + "/joke", headers={"X-PAYER": api.payer.address}).json()
    message = to_sign["accepts"][0]["extra"]["voucherToSign"]["typedData"]["message"]
    header = _x_payment(message, "0x" + "11" * 64 + "1b", paid_api.JOKE)
    refused = httpx.get(api.url + "/joke", headers={"X-PAYMENT": header})
    assert (refused.status_code, refused.json()["code"]) == (402, "BAD_SIGNATURE")


def test_a_payment_for_another_route_is_refused(api: PaidApi) -> None:
    auth = PaywallAuth(api.payer.key)
    with httpx.Client(auth=auth) as client:
        paid = client.get(api.url + "/joke")
    refused = httpx.get(api.url + "/article", headers={"X-PAYMENT": paid.request.headers["X-PAYMENT"]})
    assert (refused.status_code, refused.json()["code"]) == (402, "INVALID_INPUT")


def test_the_client_refuses_a_price_above_its_maximum(api: PaidApi) -> None:
    auth = PaywallAuth(api.payer.key, max_price=PRICE - 1)
    with httpx.Client(auth=auth) as client, pytest.raises(MicropaymentsError) as refused:
        client.get(api.url + "/joke")
    assert refused.value.code == "PRICE_ABOVE_MAX"


def _x_payment(message: dict[str, Any], signature: str, resource_id: str) -> str:
    payload = {
        "x402Version": 1,
        "scheme": "micropayment-lane-v2",
        "network": "eip155:31337",
        "payload": {"resourceId": resource_id, "signature": signature, "voucher": message},
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_a_fresh_voucher_of_the_payer_for_what_it_owns_reads_it_free(api: PaidApi) -> None:
    asked = [httpx.get(api.url + "/article", headers={"X-PAYER": api.payer.address}).json() for _ in range(2)]
    headers = [_signed_x_payment(api, body, paid_api.ARTICLE) for body in asked]
    bought = httpx.get(api.url + "/article", headers={"X-PAYMENT": headers[0]})
    read = httpx.get(api.url + "/article", headers={"X-PAYMENT": headers[1]})
    assert bought.status_code == read.status_code == 200
    first, second = decoded(bought.headers["X-PAYMENT-RESPONSE"]), decoded(read.headers["X-PAYMENT-RESPONSE"])
    assert (first["charged"], second["charged"]) == (str(PRICE), "0")
    assert first["receipt"]["id"] == second["receipt"]["id"]
    assert api.headroom() == DEPOSIT - PRICE


def _signed_x_payment(api: PaidApi, body: dict[str, Any], resource_id: str) -> str:
    to_sign = body["accepts"][0]["extra"]["voucherToSign"]
    purchase = next_voucher(to_sign, to_address(api.payer.address), resource_id, api.chain.domain)
    signed = api.payer.sign_typed_data(full_message=typed_data(api.chain.domain, purchase.voucher))
    message = to_sign["typedData"]["message"]
    return _x_payment(message, "0x" + bytes(signed.signature).hex(), resource_id)


def test_a_purchase_is_read_on_another_device_from_the_payers_receipts(api: PaidApi) -> None:
    with httpx.Client(auth=PaywallAuth(api.payer.key)) as laptop:
        assert laptop.get(api.url + "/article").status_code == 200
    stranger = PaywallAuth(api.payer.key)
    with httpx.Client(auth=stranger) as phone, pytest.raises(MicropaymentsError) as refused:
        phone.get(api.url + "/article")
    assert refused.value.code == "ALREADY_OWNED"
    with Micropayments(api.url.removesuffix("/example"), key=api.payer.key) as account:
        account.sign_in()
        auth = PaywallAuth(api.payer.key, receipts=account.receipts)
        with httpx.Client(auth=auth) as phone:
            read = phone.get(api.url + "/article")
    assert read.status_code == 200
    assert [r["charged"] for r in auth.receipts] == [0]
    assert api.headroom() == DEPOSIT - PRICE


def test_a_cors_preflight_is_never_asked_to_pay(api: PaidApi) -> None:
    assert httpx.options(api.url + "/joke").status_code != 402

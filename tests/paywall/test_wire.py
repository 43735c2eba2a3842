"""The paywall's x402 shapes, pure: X-PAYMENT in and out."""

from __future__ import annotations

import base64
import json

import pytest

from app.core.eip712 import Entry, PayerVoucher
from app.core.errors import InvalidInput
from app.core.types import to_address
from app.paywall import wire
from app.services.payments import PayRequest

PAYER, TOKEN, PAYEE = (to_address("0x" + c * 40) for c in "abc")


def make_request() -> PayRequest:
    voucher = PayerVoucher(PAYER, TOKEN, 3, (Entry(PAYEE, 2**100),), b"\x01" * 32)
    return PayRequest(voucher, b"\x02" * 65, "example/joke")


def test_an_x_payment_decodes_to_the_request_it_encodes() -> None:
    assert wire.decode_payment(wire.encode_payment(make_request(), 31337)) == make_request()


def test_amounts_and_lanes_travel_as_decimal_strings() -> None:
    payload = json.loads(base64.b64decode(wire.encode_payment(make_request(), 31337)))
    assert payload["network"] == "eip155:31337"
    assert payload["payload"]["voucher"]["lane"] == "3"
    assert payload["payload"]["voucher"]["entries"][0]["cumulativeAmount"] == str(2**100)


@pytest.mark.parametrize(
    "header",
    [
        "not base64!",
        base64.b64encode(b"[]").decode(),
        base64.b64encode(json.dumps({"x402Version": 1, "scheme": "exact", "payload": {}}).encode()).decode(),
        base64.b64encode(
            json.dumps({"x402Version": 1, "scheme": wire.SCHEME, "payload": {}}).encode()
        ).decode(),
        "A" * (wire.MAX_PAYMENT_HEADER + 4),
    ],
)
def test_anything_else_is_refused_as_invalid_input(header: str) -> None:
    with pytest.raises(InvalidInput):
        wire.decode_payment(header)


def test_a_negative_or_fractional_amount_is_refused() -> None:
    payload = json.loads(base64.b64decode(wire.encode_payment(make_request(), 1)))
    payload["payload"]["voucher"]["entries"][0]["cumulativeAmount"] = "-1"
    with pytest.raises(InvalidInput):
        wire.decode_payment(base64.b64encode(json.dumps(payload).encode()).decode())

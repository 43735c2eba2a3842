"""The x402 (version 1, HTTP transport) shapes of our scheme, "micropayment-lane-v2".

    402 body            {x402Version, error, code, fields, accepts: [requirements]}
    requirements        {scheme, network, maxAmountRequired, resource, description, mimeType, payTo,
                         maxTimeoutSeconds, asset, outputSchema, extra}
    extra               {resourceId, access, passSeconds, hub, operator, payerHeader, voucherToSign}
    X-PAYMENT           base64(JSON {x402Version, scheme, network, payload: {resourceId, signature,
                         voucher: {payer, token, lane, entries: [{payee, cumulativeAmount}], purchase}}})
    X-PAYMENT-RESPONSE  base64(JSON {success, transaction: null, network, payer, charged, receipt})

Amounts and lanes are decimal strings, bytes 0x hex, as in GraphQL. `extra.voucherToSign` has the
shape of GraphQL's VoucherToSign, so a client checks it with the same code (app/client/checks.py).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from app.core.eip712 import Entry, PayerVoucher
from app.core.errors import InvalidInput, Refusal
from app.core.receipts import Receipt
from app.core.types import Address, InvalidAddressError, to_address
from app.services.payments import PayRequest
from app.services.typed_data import VoucherToSign
from app.store.catalog import Resource

X402_VERSION = 1
SCHEME = "micropayment-lane-v2"
PAYMENT_HEADER = "X-PAYMENT"
PAYMENT_RESPONSE_HEADER = "X-PAYMENT-RESPONSE"
PAYER_HEADER = "X-PAYER"  # who will pay: the 402 then carries that payer's voucher to sign
MAX_TIMEOUT_SECONDS = 300  # a voucher to sign stays valid until its lane moves; this is a hint
MAX_PAYMENT_HEADER = 16_384  # bytes of base64: a lane has at most 32 entries


def network(chain_id: int) -> str:
    """CAIP-2, as x402 version 2 names networks (version 1 used names like "base-sepolia")."""
    return f"eip155:{chain_id}"


def requirements(
    resource: Resource,
    url: str,
    chain_id: int,
    hub: Address,
    operator: Address | None,
    to_sign: VoucherToSign | None,
) -> dict[str, Any]:
    """One entry of `accepts`: the resource's price, payee and token, and the voucher to sign when
    the payer is known."""
    return {
        "scheme": SCHEME,
        "network": network(chain_id),
        "maxAmountRequired": str(resource.price),
        "resource": url,
        "description": resource.title,
        "mimeType": "application/json",
        "payTo": resource.payee,
        "maxTimeoutSeconds": MAX_TIMEOUT_SECONDS,
        "asset": resource.token,
        "outputSchema": None,
        "extra": {
            "resourceId": resource.id,
            "access": resource.access.name,
            "passSeconds": resource.pass_seconds,
            "hub": hub,
            "operator": operator,
            "payerHeader": PAYER_HEADER,
            "voucherToSign": None if to_sign is None else voucher_to_sign(to_sign),
        },
    }


def payment_required(
    accepts: list[dict[str, Any]], error: str, code: str, fields: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The 402 body: x402's {x402Version, error, accepts} plus our stable `code` and its `fields`."""
    return {
        "x402Version": X402_VERSION,
        "error": error,
        "code": code,
        "fields": dict(fields or {}),
        "accepts": accepts,
    }


def refusal_fields(refusal: Refusal) -> dict[str, Any]:
    return {name: _json(value) for name, value in refusal.fields.items()}


def voucher_to_sign(to_sign: VoucherToSign) -> dict[str, Any]:
    resource = to_sign.resource
    typed = to_sign.typed_data
    return {
        "typedData": {**typed, "message": _voucher_message(typed["message"])},
        "resource": {
            "id": resource.id,
            "payee": resource.payee,
            "token": resource.token,
            "price": str(resource.price),
            "title": resource.title,
        },
        "lane": str(to_sign.lane),
        "previousEntries": [_entry(e) for e in to_sign.previous],
    }


def decode_payment(header: str) -> PayRequest:
    """The X-PAYMENT header as a PayRequest; InvalidInput unless it is base64 JSON of our scheme."""
    if len(header) > MAX_PAYMENT_HEADER:
        raise InvalidInput(f"{PAYMENT_HEADER} is longer than {MAX_PAYMENT_HEADER} characters")
    try:
        decoded = json.loads(base64.b64decode(header, validate=True))
        if decoded.get("x402Version") != X402_VERSION or decoded.get("scheme") != SCHEME:
            raise InvalidInput(f"{PAYMENT_HEADER} is not x402Version {X402_VERSION}, scheme {SCHEME}")
        payload = decoded["payload"]
        voucher = payload["voucher"]
        entries = tuple(
            Entry(to_address(e["payee"]), _uint(e["cumulativeAmount"])) for e in voucher["entries"]
        )
        return PayRequest(
            voucher=PayerVoucher(
                to_address(voucher["payer"]),
                to_address(voucher["token"]),
                _uint(voucher["lane"]),
                entries,
                _hex(voucher["purchase"], 32),
            ),
            signature=_hex(payload["signature"]),
            resource_id=str(payload["resourceId"]),
        )
    except InvalidInput:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, InvalidAddressError) as error:
        raise InvalidInput(
            f"{PAYMENT_HEADER} must be base64 JSON {{x402Version, scheme, network, payload: {{resourceId, "
            "signature, voucher}}}}: " + str(error)
        ) from None


def encode_payment(request: PayRequest, chain_id: int) -> str:
    """The X-PAYMENT header for a signed voucher (what the clients send)."""
    voucher = request.voucher
    payload = {
        "x402Version": X402_VERSION,
        "scheme": SCHEME,
        "network": network(chain_id),
        "payload": {
            "resourceId": request.resource_id,
            "signature": "0x" + request.signature.hex(),
            "voucher": _voucher_message(voucher.message()),
        },
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def payment_response(receipt: Receipt, chain_id: int, charged: int) -> str:
    """X-PAYMENT-RESPONSE: x402's settlement response, where the receipt (with the operator's
    acknowledgement) stands for a transaction: settlement is batched later, on the hub."""
    body = {
        "success": True,
        "transaction": None,
        "network": network(chain_id),
        "payer": receipt.payer,
        "charged": str(charged),
        "receipt": {
            "id": receipt.id,
            "resourceId": receipt.resource_id,
            "payer": receipt.payer,
            "payee": receipt.payee,
            "token": receipt.token,
            "lane": str(receipt.lane),
            "price": str(receipt.price),
            "cumulativeAmount": str(receipt.cumulative_amount),
            "purchase": "0x" + receipt.purchase.hex(),
            "signature": "0x" + receipt.signature.hex(),
            "acknowledgement": "0x" + receipt.acknowledgement.hex(),
            "signer": receipt.signer,
            "status": receipt.status.name,
            "createdAt": receipt.created_at,
        },
    }
    return base64.b64encode(json.dumps(body).encode()).decode()


def _voucher_message(message: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **message,
        "lane": str(message["lane"]),
        "entries": [
            {"payee": e["payee"], "cumulativeAmount": str(e["cumulativeAmount"])} for e in message["entries"]
        ],
    }


def _entry(entry: Entry) -> dict[str, str]:
    return {"payee": entry.payee, "cumulativeAmount": str(entry.cumulative_amount)}


def _uint(value: Any) -> int:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).isdigit():
        raise ValueError(f"{value!r} is not a decimal amount")
    return int(value)


def _hex(value: Any, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"{value!r} is not 0x hex")
    data = bytes.fromhex(value[2:])
    if size is not None and len(data) != size:
        raise ValueError(f"{value!r} is not {size} bytes")
    return data


def _json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, str | bool) or value is None:
        return value
    return str(value)

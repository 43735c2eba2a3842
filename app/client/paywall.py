"""Paying HTTP 402 paywalls of scheme "micropayment-lane-v2" (docs/paywall.md) from httpx.

    auth = PaywallAuth(WALLET_KEY, max_price=10_000)
    httpx.get("http://127.0.0.1:8000/example/joke", auth=auth).json()
    auth.receipts[-1]["acknowledgement"]       # the operator's countersignature, checked

On a 402 it takes the voucher to sign from the requirements (asking again with X-PAYER if they
carry none), checks it as `Micropayments.pay` does (`next_voucher`: this payer, the requirement's
payee, token and price, one entry raised by exactly the price, nothing else changed), signs it,
retries with X-PAYMENT, and checks the receipt in X-PAYMENT-RESPONSE is acknowledged by the
operator. What it bought once (a PURCHASE, a running TIME_PASS) it reads again by resending the
same X-PAYMENT, which the server never charges twice; on another device, give it `receipts`
(e.g. a signed-in `Micropayments(...).receipts`) and it rebuilds that X-PAYMENT from the receipt.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.client.checks import Purchase, next_voucher
from app.client.errors import MicropaymentsError
from app.core.eip712 import Acknowledgement, Domain, Entry, PayerVoucher, digest, typed_data
from app.core.signatures import recover
from app.core.types import Address, to_address

SCHEME = "micropayment-lane-v2"
X402_VERSION = 1
PAYMENT, PAYMENT_RESPONSE, PAYER = "X-PAYMENT", "X-PAYMENT-RESPONSE", "X-PAYER"


class PaywallAuth(httpx.Auth):
    """An httpx Auth that pays 402s with vouchers signed by `key` (the payer's wallet key, or a
    session key of `payer`). `domain`: the hub to pay through (default: the one the 402 names);
    `operator`: who must acknowledge (default: the one the 402 names); `max_price`: refuse dearer;
    `receipts`: the payer's receipts with their vouchers, to prove on this device what it owns."""

    requires_response_body = True

    def __init__(
        self,
        key: str | bytes | LocalAccount,
        payer: str | None = None,
        *,
        max_price: int | None = None,
        domain: Domain | None = None,
        operator: str | None = None,
        receipts: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._receipts = receipts
        self.signer: LocalAccount = key if isinstance(key, LocalAccount) else Account.from_key(key)
        self.payer = to_address(payer) if payer else to_address(self.signer.address)
        self.max_price, self.domain = max_price, domain
        self.operator = to_address(operator) if operator else None
        self.receipts: list[dict[str, Any]] = []  # every receipt received, in order
        self._owned: dict[str, str] = {}  # url -> the X-PAYMENT that bought it (not PER_USE)
        self._sent: dict[str, tuple[Domain, Address | None]] = {}  # X-PAYMENT -> its hub, operator

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url = str(request.url.copy_with(query=None))
        request.headers[PAYER] = self.payer
        if url in self._owned:
            request.headers[PAYMENT] = self._owned[url]
        response = yield request
        for _ in range(2):  # a second time when the lane moved meanwhile (CUMULATIVE_MISMATCH)
            if response.status_code != 402:
                break
            body = _json(response)
            if body.get("code") == "ALREADY_OWNED" and PAYMENT not in request.headers:
                proof = self._owned.get(url) or self._proof(body)
                if proof is None:
                    raise MicropaymentsError("ALREADY_OWNED", str(body.get("error")), body.get("fields"))
                request.headers[PAYMENT] = self._owned[url] = proof
            elif body.get("code") not in ("PAYMENT_REQUIRED", "CUMULATIVE_MISMATCH", "PAYMENT_ALREADY_USED"):
                raise MicropaymentsError(str(body.get("code")), str(body.get("error")), body.get("fields"))
            else:
                requirement, purchase = self._purchase(body)
                header = self._x_payment(purchase, requirement)
                request.headers[PAYMENT] = header
                if requirement["extra"].get("access") != "PER_USE":
                    self._owned[url] = header
            response = yield request
        if response.status_code == 402:
            body = _json(response)
            raise MicropaymentsError(str(body.get("code")), str(body.get("error")), body.get("fields"))
        if PAYMENT_RESPONSE in response.headers:
            self.receipts.append(self._acknowledged(response, request))

    def _proof(self, body: Mapping[str, Any]) -> str | None:
        """The X-PAYMENT that paid the receipt the refusal names, rebuilt from the payer's receipts."""
        wanted = (body.get("fields") or {}).get("receipt")
        found = [r for r in (self._receipts() if self._receipts else []) if r.get("id") == wanted]
        if not found or not body.get("accepts"):
            return None
        receipt, requirement = found[0], body["accepts"][0]
        voucher = receipt["voucher"]
        entries = [
            {"payee": e["payee"], "cumulativeAmount": str(e["cumulativeAmount"])} for e in voucher["entries"]
        ]
        payload = {
            "x402Version": X402_VERSION,
            "scheme": SCHEME,
            "network": requirement["network"],
            "payload": {
                "resourceId": receipt["resourceId"],
                "signature": voucher["signature"],
                "voucher": {
                    "payer": voucher["payer"],
                    "token": voucher["token"],
                    "lane": str(voucher["lane"]),
                    "entries": entries,
                    "purchase": voucher["purchase"],
                },
            },
        }
        header = base64.b64encode(json.dumps(payload).encode()).decode()
        named = requirement["extra"].get("operator")
        self._sent[header] = (
            self._domain(requirement),
            self.operator or (to_address(named) if named else None),
        )
        return header

    def _purchase(self, body: Mapping[str, Any]) -> tuple[dict[str, Any], Purchase]:
        ours = [a for a in body.get("accepts", []) if a.get("scheme") == SCHEME]
        if not ours:
            raise MicropaymentsError("UNSUPPORTED_SCHEME", f"the 402 accepts no {SCHEME} payment", body)
        requirement = ours[0]
        extra = requirement["extra"]
        to_sign = extra.get("voucherToSign")
        if to_sign is None:
            raise MicropaymentsError("NO_VOUCHER", f"the 402 has no voucher for {self.payer}", body)
        price = int(requirement["maxAmountRequired"])
        resource = to_sign["resource"]
        if (to_address(resource["payee"]), to_address(resource["token"]), int(resource["price"])) != (
            to_address(requirement["payTo"]),
            to_address(requirement["asset"]),
            price,
        ):
            raise MicropaymentsError("UNEXPECTED_TYPED_DATA", "the voucher is not for payTo, asset, price")
        if self.max_price is not None and price > self.max_price:
            raise MicropaymentsError("PRICE_ABOVE_MAX", f"the price is {price}", {"price": price})
        purchase = next_voucher(to_sign, self.payer, str(extra["resourceId"]), self._domain(requirement))
        return requirement, purchase

    def _x_payment(self, purchase: Purchase, requirement: Mapping[str, Any]) -> str:
        domain = self._domain(requirement)
        signed = self.signer.sign_typed_data(full_message=typed_data(domain, purchase.voucher))
        message = purchase.voucher.message()
        payload = {
            "x402Version": X402_VERSION,
            "scheme": SCHEME,
            "network": requirement["network"],
            "payload": {
                "resourceId": purchase.resource_id,
                "signature": "0x" + bytes(signed.signature).hex(),
                "voucher": {
                    **message,
                    "lane": str(message["lane"]),
                    "entries": [
                        {"payee": e["payee"], "cumulativeAmount": str(e["cumulativeAmount"])}
                        for e in message["entries"]
                    ],
                },
            },
        }
        header = base64.b64encode(json.dumps(payload).encode()).decode()
        named = requirement["extra"].get("operator")
        self._sent[header] = (domain, self.operator or (to_address(named) if named else None))
        return header

    def _acknowledged(self, response: httpx.Response, request: httpx.Request) -> dict[str, Any]:
        """The receipt, if the operator acknowledged the voucher this request sent."""
        settled = json.loads(base64.b64decode(response.headers[PAYMENT_RESPONSE]))
        receipt: dict[str, Any] = settled["receipt"]
        header = request.headers[PAYMENT]
        voucher = json.loads(base64.b64decode(header))["payload"]["voucher"]
        signed = PayerVoucher(
            to_address(voucher["payer"]),
            to_address(voucher["token"]),
            int(voucher["lane"]),
            tuple(Entry(to_address(e["payee"]), int(e["cumulativeAmount"])) for e in voucher["entries"]),
            bytes.fromhex(voucher["purchase"][2:]),
        )
        domain, operator = self._sent[header]
        ack = Acknowledgement(digest(domain, signed))
        by = recover(digest(domain, ack), bytes.fromhex(str(receipt.get("acknowledgement", "0x"))[2:]))
        if operator is None or by != operator:
            raise MicropaymentsError(
                "UNACKNOWLEDGED", f"acknowledged by {by}, not the operator {operator}", receipt
            )
        return {**receipt, "charged": int(settled["charged"])}

    def _domain(self, requirement: Mapping[str, Any]) -> Domain:
        if self.domain is not None:
            return self.domain
        chain = str(requirement["network"]).removeprefix("eip155:")
        return Domain(chain_id=int(chain), hub=to_address(requirement["extra"]["hub"]))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise MicropaymentsError("NOT_X402", f"a 402 without an x402 body: {response.text[:200]!r}")
    return body

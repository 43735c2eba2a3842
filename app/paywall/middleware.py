"""Paywall: an ASGI middleware that answers 402 on priced routes until a voucher pays for them.

    request without X-PAYMENT          402 {accepts: [our requirements]}; with X-PAYER (or ?payer=)
                                       the requirements carry that payer's voucher to sign
    X-PAYMENT, accepted now            the route runs; X-PAYMENT-RESPONSE carries the receipt
    X-PAYMENT already accepted before  the route runs again only for a purchase owned or a pass
                                       running (the same voucher is a proof, never a second charge);
                                       for PER_USE it is spent: 402 PAYMENT_ALREADY_USED
    X-PAYMENT refused                  402 with the refusal's code and fields (ALREADY_OWNED on a
                                       fresh voucher signed by the payer itself is a proof too: the
                                       route runs, charged 0)

The voucher goes through Payments.pay, the very path of GraphQL's pay: every rule, the payer's
lock, the acknowledgement, idempotency by voucher.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.access import AccessModel
from app.core.eip712 import digest
from app.core.errors import (
    AlreadyOwned,
    InvalidInput,
    PaymentAlreadyUsed,
    Refusal,
    Transient,
    UnknownResource,
)
from app.core.receipts import Receipt, receipt_id
from app.core.signatures import recover
from app.core.types import Address, InvalidAddressError, to_address
from app.paywall import wire
from app.services.runtime import Services


class Paywall:
    """Prices the routes in `prices` (exact path -> catalog resource id); other routes pass through."""

    def __init__(self, app: ASGIApp, services: Services, prices: Mapping[str, str]) -> None:
        self.app = app
        self.services = services
        self.prices = dict(prices)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        priced = scope["type"] == "http" and scope["method"] != "OPTIONS"  # a CORS preflight is free
        resource_id = self.prices.get(_route_path(scope)) if priced else None
        if resource_id is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        payment = headers.get(wire.PAYMENT_HEADER)
        try:
            if payment is None:
                response = await self._required(scope, headers, resource_id)
            else:
                receipt, charged = await self._pay(payment, resource_id)
                await self.app(scope, receive, _with_receipt(send, receipt, self._chain_id, charged))
                return
        except Refusal as refusal:
            response = await self._refused(scope, headers, resource_id, refusal)
        except Transient as error:
            response = JSONResponse({"error": str(error), "code": "TRANSIENT"}, status_code=503)
        await response(scope, receive, send)

    @property
    def _chain_id(self) -> int:
        return self.services.domain.chain_id

    async def _pay(self, header: str, resource_id: str) -> tuple[Receipt, int]:
        """The receipt that lets the route run, and what this request was charged for it."""
        request = wire.decode_payment(header)
        if request.resource_id != resource_id:
            raise InvalidInput(
                f"this payment is for {request.resource_id!r}; this route sells {resource_id!r}",
                resource=resource_id,
            )
        services = self.services
        voucher_digest = digest(services.domain, request.voucher)
        rid = receipt_id(voucher_digest)
        before = await run_in_threadpool(services.accounts.receipt, rid)
        try:
            receipt = await run_in_threadpool(services.payments.pay, request)
        except AlreadyOwned as owned:
            # A fresh voucher the payer itself signed proves it is the payer: serve what it holds. A
            # session key's is not enough (its grant may have ended): resend the voucher that paid.
            held = await run_in_threadpool(services.accounts.receipt, str(owned.fields["receipt"]))
            if held is None or recover(voucher_digest, request.signature) != request.voucher.payer:
                raise
            return held, 0
        if before is None:
            return receipt, receipt.price
        resource, held_now = await run_in_threadpool(services.catalog.access, receipt.payer, resource_id)
        if resource.access is AccessModel.PER_USE or not held_now.owned:
            raise PaymentAlreadyUsed(
                f"this voucher already paid once (receipt {receipt.id}): sign a new one",
                receipt=receipt.id,
            )
        return receipt, 0

    async def _required(self, scope: Scope, headers: Headers, resource_id: str) -> JSONResponse:
        payer = _payer(scope, headers)
        error = f"{wire.PAYMENT_HEADER} header is required"
        if payer is None:
            error += f": send {wire.PAYER_HEADER} (or ?payer=) to get the voucher to sign"
        accepts = await self._accepts(scope, resource_id, payer)
        return _payment_required(wire.payment_required(accepts, error, "PAYMENT_REQUIRED"))

    async def _refused(
        self, scope: Scope, headers: Headers, resource_id: str, refusal: Refusal
    ) -> JSONResponse:
        if isinstance(refusal, UnknownResource):
            return JSONResponse({"error": refusal.message, "code": refusal.code}, status_code=404)
        try:
            payer = None if isinstance(refusal, AlreadyOwned) else _payer(scope, headers)
            accepts = await self._accepts(scope, resource_id, payer)
        except Refusal:
            accepts = []
        body = wire.payment_required(accepts, refusal.message, refusal.code, wire.refusal_fields(refusal))
        return _payment_required(body)

    async def _accepts(self, scope: Scope, resource_id: str, payer: Address | None) -> list[dict[str, Any]]:
        services = self.services
        resource = await run_in_threadpool(services.catalog.resource, resource_id)
        if resource is None or not resource.active:
            raise UnknownResource(f"no resource {resource_id!r} is for sale", resource=resource_id)
        to_sign = None
        if payer is not None:
            to_sign = await run_in_threadpool(services.typed_data.voucher, payer, resource_id)
        url = str(URL(scope=scope).replace(query=""))
        return [
            wire.requirements(resource, url, self._chain_id, services.domain.hub, services.operator, to_sign)
        ]


def _payer(scope: Scope, headers: Headers) -> Address | None:
    raw = headers.get(wire.PAYER_HEADER)
    if raw is None:
        raw = dict(_query(scope)).get("payer")
    if raw is None:
        return None
    try:
        return to_address(raw)
    except InvalidAddressError:
        raise InvalidInput(f"{wire.PAYER_HEADER} {raw!r} is not an address") from None


def _route_path(scope: Scope) -> str:
    """The path inside the app the paywall wraps (a Mount keeps the full path, sets root_path)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _query(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def _payment_required(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=402)


def _with_receipt(send: Send, receipt: Receipt, chain_id: int, charged: int) -> Send:
    header = wire.payment_response(receipt, chain_id, charged)

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers[wire.PAYMENT_RESPONSE_HEADER] = header
            headers["Access-Control-Expose-Headers"] = wire.PAYMENT_RESPONSE_HEADER
        await send(message)

    return sending

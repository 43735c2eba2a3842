"""What mutations return: a success type or a refusal, in a union (expected failures are data).

A resolver returns the success type; a `Refusal` it raises becomes the union's
refusal member through the schema's exception handlers (`REFUSAL_HANDLERS`),
most specific first.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types.field import StrawberryField

from app.api.errors import CumulativeMismatch, InsufficientFunds, Refused, refusal_type, refused
from app.api.scalars import Timestamp
from app.api.types import Receipt, Resource
from app.core import errors as core
from app.core.receipts import Receipt as DomainReceipt
from app.core.types import Address
from app.store.catalog import Resource as DomainResource

MAX_IDEMPOTENCY_KEY = 128


@strawberry.type(description="The voucher is accepted; the receipt is durable.")
class PaymentAccepted:
    receipt: Receipt = strawberry.field(description="The receipt: proof of the payment.")

    @classmethod
    def from_domain(cls, receipt: DomainReceipt) -> PaymentAccepted:
        return cls(receipt=Receipt.from_domain(receipt))


@strawberry.type(description="A signed-in session: send `token` as `Authorization: Bearer <token>`.")
class Session:
    token: str = strawberry.field(
        description="Send it as `Authorization: Bearer <token>` (over WebSocket, as `authorization` in "
        "connection_init)."
    )
    address: Address = strawberry.field(description="The signed-in address.")
    expires_at: Timestamp = strawberry.field(description="When the session ends.")

    @classmethod
    def from_domain(cls, session: tuple[str, Address, int]) -> Session:
        token, address, expires_at = session
        return cls(token=token, address=address, expires_at=Timestamp(expires_at))


@strawberry.type(description="The resource is listed (or updated) as asked.")
class ResourceSaved:
    resource: Resource = strawberry.field(description="The resource as saved.")

    @classmethod
    def from_domain(cls, resource: DomainResource) -> ResourceSaved:
        return cls(resource=Resource.from_domain(resource))


PayResult = Annotated[
    PaymentAccepted | CumulativeMismatch | InsufficientFunds | Refused,
    strawberry.union("PayResult", description="What pay returns: a receipt, or why not."),
]
SignInResult = Annotated[
    Session | Refused, strawberry.union("SignInResult", description="A session, or why not.")
]
SaveResourceResult = Annotated[
    ResourceSaved | Refused,
    strawberry.union("SaveResourceResult", description="The saved resource, or why not."),
]


def pay_result(outcome: DomainReceipt | core.Refusal) -> PayResult:
    """One row of payBatch: pay_batch returns refusals as values."""
    if isinstance(outcome, core.Refusal):
        return refusal_type(outcome)
    return PaymentAccepted.from_domain(outcome)


def check_idempotency_key(key: str | None) -> str | None:
    """The key, checked: 1-128 printable ASCII characters."""
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()):
        raise core.InvalidInput(f"idempotencyKey must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


class CumulativeMismatchHandler(strawberry.ExceptionHandler[core.CumulativeMismatch, CumulativeMismatch]):
    def handle(
        self, exception: core.CumulativeMismatch, *, field: StrawberryField, info: Any
    ) -> CumulativeMismatch | None:
        result = refusal_type(exception)
        return result if isinstance(result, CumulativeMismatch) else None


class InsufficientFundsHandler(strawberry.ExceptionHandler[core.InsufficientFunds, InsufficientFunds]):
    def handle(
        self, exception: core.InsufficientFunds, *, field: StrawberryField, info: Any
    ) -> InsufficientFunds | None:
        result = refusal_type(exception)
        return result if isinstance(result, InsufficientFunds) else None


class RefusalHandler(strawberry.ExceptionHandler[core.Refusal, Refused]):
    def handle(self, exception: core.Refusal, *, field: StrawberryField, info: Any) -> Refused:
        return refused(exception)


REFUSAL_HANDLERS: tuple[strawberry.ExceptionHandler[Any], ...] = (
    CumulativeMismatchHandler(),
    InsufficientFundsHandler(),
    RefusalHandler(),
)

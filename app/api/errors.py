"""Refusals as GraphQL types, for the result unions of mutations.

    interface Refusal { code message }
    ├── Refused              any refusal, with its structured `fields` as JSON
    ├── CumulativeMismatch   the expected amount and the latest accepted voucher, to resynchronise
    └── InsufficientFunds    the headroom and the price

`refusal_type()` turns an `app.core.errors.Refusal` into the most specific of
them, `refused()` into the generic one. Refusals raised by queries, and
`Transient` failures, are GraphQL errors instead, with `extensions.code` (see
limits.ErrorCodes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.api.scalars import MAX_SAFE_INTEGER, Amount, Bytes, Bytes32
from app.core import errors as core
from app.core import rules
from app.core.types import Address


@strawberry.interface(description="Why a request was refused: safe to show, with a stable `code`.")
class Refusal:
    code: str = strawberry.field(description="Stable, e.g. BAD_SIGNATURE, UNKNOWN_RESOURCE.")
    message: str = strawberry.field(description="For humans; may change.")


@strawberry.type(description="A refusal with no fields of its own type: see `code` and `fields`.")
class Refused(Refusal):
    fields: JSON = strawberry.field(
        description="Structured details; integers beyond 2^53-1 and amounts are decimal strings."
    )


@strawberry.type(description="A voucher and its signature, as the server accepted them.")
class SignedVoucher:
    payer: Address = strawberry.field(description="Who signed (or whose session key did).")
    payee: Address = strawberry.field(description="Who is paid.")
    token: Address = strawberry.field(description="The token paid in.")
    cumulative_amount: Amount = strawberry.field(
        description="Everything the payer has paid the payee in this token so far."
    )
    purchase: Bytes32 = strawberry.field(description="The purchase id the voucher is bound to.")
    signature: Bytes = strawberry.field(description="The signature the server accepted.")

    @classmethod
    def from_domain(cls, signed: rules.SignedVoucher) -> SignedVoucher:
        voucher = signed.voucher
        return cls(
            payer=voucher.payer,
            payee=voucher.payee,
            token=voucher.token,
            cumulative_amount=Amount(voucher.cumulative_amount),
            purchase=Bytes32(voucher.purchase),
            signature=Bytes(signed.signature),
        )


@strawberry.type(
    description="cumulativeAmount is not the channel's accepted amount plus the price. `latest` is the "
    "server's latest accepted voucher of the channel (check its signature), `expected` the amount to sign."
)
class CumulativeMismatch(Refusal):
    expected: Amount = strawberry.field(
        description="The cumulative amount to sign: the latest accepted amount plus the price."
    )
    latest: SignedVoucher | None = strawberry.field(
        description="The latest voucher the server accepted in this channel; null if none."
    )


@strawberry.type(description="The payer's headroom does not cover the price: deposit more.")
class InsufficientFunds(Refusal):
    headroom: Amount = strawberry.field(
        description="What the payer can still spend: balance - pending withdrawal - outstanding."
    )
    price: Amount = strawberry.field(description="The price asked.")


RefusalType = Refused | CumulativeMismatch | InsufficientFunds

_AMOUNT_FIELDS = frozenset({"expected", "headroom", "price", "available", "allowance"})


def refusal_type(refusal: core.Refusal) -> RefusalType:
    """The GraphQL object for a refusal raised by a service."""
    fields = refusal.fields
    if isinstance(refusal, core.CumulativeMismatch):
        latest = fields.get("latest")
        return CumulativeMismatch(
            code=refusal.code,
            message=refusal.message,
            expected=Amount(fields["expected"]),
            latest=SignedVoucher.from_domain(latest) if isinstance(latest, rules.SignedVoucher) else None,
        )
    if isinstance(refusal, core.InsufficientFunds):
        return InsufficientFunds(
            code=refusal.code,
            message=refusal.message,
            headroom=Amount(fields["headroom"]),
            price=Amount(fields["price"]),
        )
    return refused(refusal)


def refused(refusal: core.Refusal) -> Refused:
    """The generic GraphQL object for a refusal, whatever its class."""
    return Refused(code=refusal.code, message=refusal.message, fields=JSON(fields_json(refusal.fields)))


def fields_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A refusal's fields as JSON: amounts as decimal strings, bytes as 0x hex."""
    return {
        _camel(name): str(value) if name in _AMOUNT_FIELDS and isinstance(value, int) else to_json(value)
        for name, value in fields.items()
    }


def to_json(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {_camel(f.name): to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {_camel(str(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)

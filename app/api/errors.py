"""Refusals as GraphQL types, for the result unions of mutations.

    interface Refusal { code message }
    ├── Refused              any refusal, with its structured `fields` as JSON
    ├── CumulativeMismatch   the expected entries and the lane's latest accepted voucher, to resynchronise
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

from app.api.scalars import MAX_SAFE_INTEGER, Amount
from app.api.types import Entry, SignedVoucher
from app.core import errors as core
from app.core.receipts import SignedVoucher as DomainSignedVoucher


@strawberry.interface(description="Why a request was refused: safe to show, with a stable `code`.")
class Refusal:
    code: str = strawberry.field(description="Stable, e.g. BAD_SIGNATURE, UNKNOWN_RESOURCE.")
    message: str = strawberry.field(description="For humans; may change.")


@strawberry.type(description="A refusal with no fields of its own type: see `code` and `fields`.")
class Refused(Refusal):
    fields: JSON = strawberry.field(
        description="Structured details; integers beyond 2^53-1 and amounts are decimal strings."
    )


@strawberry.type(
    description="The voucher is not the lane's last accepted vector with the payee raised by the price. "
    "`latest` is the server's latest accepted voucher of the lane (check its signature), `expected` the "
    "entries to sign."
)
class CumulativeMismatch(Refusal):
    expected: list[Entry] = strawberry.field(description="The entries the voucher must have.")
    latest: SignedVoucher | None = strawberry.field(description="The lane's latest accepted voucher.")


@strawberry.type(description="The payer's headroom does not cover the price: deposit more.")
class InsufficientFunds(Refusal):
    headroom: Amount = strawberry.field(
        description="What the payer can still spend: balance - pending withdrawal - outstanding."
    )
    price: Amount = strawberry.field(description="The price asked.")


RefusalType = Refused | CumulativeMismatch | InsufficientFunds

_AMOUNT_FIELDS = frozenset({"headroom", "price", "cap", "total"})


def refusal_type(refusal: core.Refusal) -> RefusalType:
    """The GraphQL object for a refusal raised by a service."""
    fields = refusal.fields
    if isinstance(refusal, core.CumulativeMismatch):
        latest = fields.get("latest")
        return CumulativeMismatch(
            code=refusal.code,
            message=refusal.message,
            expected=Entry.many(fields.get("expected", ())),
            latest=SignedVoucher.from_domain(latest) if isinstance(latest, DomainSignedVoucher) else None,
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

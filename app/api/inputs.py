"""GraphQL input types, each turned into the service's request by `to_domain`."""

from __future__ import annotations

import strawberry

from app.api.scalars import Amount, Bytes, Bytes32, SafeInt, Timestamp
from app.api.types import AccessModel
from app.core.eip712 import Entry, PayerVoucher, SessionGrant
from app.core.types import Address
from app.services.payments import PayRequest


@strawberry.input(description="One payee's cumulative amount in a lane's vector.")
class EntryInput:
    payee: Address = strawberry.field(description="The creator paid.")
    cumulative_amount: Amount = strawberry.field(description="Everything ever paid to it on this lane.")


@strawberry.input(description="A signed PayerVoucher paying for one resource (see voucherToSign).")
class PayInput:
    payer: Address = strawberry.field(description="The wallet whose deposit pays.")
    token: Address = strawberry.field(description="The stablecoin of the resource.")
    lane: Amount = strawberry.field(description="The lane the voucher extends, as voucherToSign gave it.")
    entries: list[EntryInput] = strawberry.field(
        description="The whole vector: the lane's last one with the resource's payee raised by its price, "
        "in ascending payee order."
    )
    purchase: Bytes32 = strawberry.field(description="32 bytes binding the voucher to this purchase.")
    signature: Bytes = strawberry.field(
        description="65-byte (r, s, v with v 27 or 28) or 64-byte EIP-2098 signature of the EIP-712 "
        "PayerVoucher, by the payer, a key it authorised on chain, or a session key with a grant for this "
        "lane."
    )
    resource_id: str = strawberry.field(description="The resource bought.")

    def to_domain(self) -> PayRequest:
        entries = tuple(Entry(e.payee, e.cumulative_amount) for e in self.entries)
        voucher = PayerVoucher(self.payer, self.token, self.lane, entries, self.purchase)
        return PayRequest(voucher=voucher, signature=self.signature, resource_id=self.resource_id)


@strawberry.input(description="A SessionGrant as the payer signed it (see grantToSign).")
class SessionGrantInput:
    payer: Address = strawberry.field(description="The wallet that grants.")
    signer: Address = strawberry.field(description="The session key's address.")
    token: Address = strawberry.field(description="The only token the key may pay in.")
    lane: Amount = strawberry.field(description="The only lane the key may sign on.")
    max_total: Amount = strawberry.field(description="The most the key's lane may ever total.")
    valid_until: Timestamp = strawberry.field(description="The key's expiry, in chain time.")

    def to_domain(self) -> SessionGrant:
        return SessionGrant(self.payer, self.signer, self.token, self.lane, self.max_total, self.valid_until)


@strawberry.input(description="A resource to list, or the signed-in creator's listing to update.")
class ResourceInput:
    id: str = strawberry.field(description="1-128 characters: letters, digits and . _ : / -")
    token: Address = strawberry.field(description="The token its price is in: one the hub accepts.")
    price: Amount = strawberry.field(description="The price of one action, in the token's base units.")
    title: str = strawberry.field(description="A title for people.")
    description: str = strawberry.field(default="", description="A description for people; may be empty.")
    access: AccessModel = strawberry.field(
        default=AccessModel.PER_USE, description="How it is paid for; PER_USE by default."
    )
    pass_seconds: SafeInt = strawberry.field(
        default=SafeInt(0), description="For a TIME_PASS, how long one payment lasts (1 s to a year); else 0."
    )

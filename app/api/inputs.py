"""GraphQL input types, each turned into the service's request by `to_domain`."""

from __future__ import annotations

import strawberry

from app.api.scalars import Amount, Bytes, Bytes32
from app.core.eip712 import Voucher
from app.core.types import Address
from app.services.payments import PayRequest


@strawberry.input(description="A signed voucher paying for one resource.")
class PayInput:
    payer: Address = strawberry.field(description="Who pays: the voucher's payer.")
    payee: Address = strawberry.field(description="Who is paid: the resource's creator.")
    token: Address = strawberry.field(description="The token paid in: the resource's.")
    cumulative_amount: Amount = strawberry.field(
        description="The voucher's cumulative amount: the channel's accepted amount plus the price."
    )
    purchase: Bytes32 = strawberry.field(description="The voucher's purchase id (from voucherToSign).")
    signature: Bytes = strawberry.field(
        description="65-byte (r, s, v) or 64-byte EIP-2098 signature of the EIP-712 Voucher, "
        "by the payer or one of its session keys; or the payer's EIP-1271 signature."
    )
    resource_id: str = strawberry.field(description="The resource paid for.")

    def to_domain(self) -> PayRequest:
        voucher = Voucher(self.payer, self.payee, self.token, self.cumulative_amount, self.purchase)
        return PayRequest(voucher=voucher, signature=self.signature, resource_id=self.resource_id)


@strawberry.input(description="A resource to list, or the signed-in creator's listing to update.")
class ResourceInput:
    id: str = strawberry.field(description="1-128 characters: letters, digits and . _ : / -")
    token: Address = strawberry.field(description="The token its price is in: one the hub accepts.")
    price: Amount = strawberry.field(description="The price of one action, in the token's base units.")
    title: str = strawberry.field(description="A title for people.")
    description: str = strawberry.field(default="", description="A description for people; may be empty.")

"""GraphQL input types, each turned into the service's request by `to_domain`."""

from __future__ import annotations

import strawberry

from app.api.scalars import Amount, Bytes, Bytes32
from app.core.eip712 import Voucher
from app.core.types import Address
from app.services.payments import PayRequest


@strawberry.input(description="A signed voucher paying for one resource.")
class PayInput:
    payer: Address
    payee: Address
    token: Address
    cumulative_amount: Amount
    purchase: Bytes32
    signature: Bytes = strawberry.field(
        description="65-byte (r, s, v) or 64-byte EIP-2098 signature of the EIP-712 Voucher, "
        "by the payer or one of its session keys; or the payer's EIP-1271 signature."
    )
    resource_id: str

    def to_domain(self) -> PayRequest:
        voucher = Voucher(self.payer, self.payee, self.token, self.cumulative_amount, self.purchase)
        return PayRequest(voucher=voucher, signature=self.signature, resource_id=self.resource_id)


@strawberry.input(description="A resource to list, or the signed-in creator's listing to update.")
class ResourceInput:
    id: str = strawberry.field(description="1-128 characters: letters, digits and . _ : / -")
    token: Address
    price: Amount
    title: str
    description: str = ""

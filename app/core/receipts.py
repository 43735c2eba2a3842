"""Receipts: the signed vouchers the server accepted, and their lifecycle.

accepted ──(Claimed on chain covers it)──▶ claimed ──(payee withdrew)──▶ paid_out
    └──(the claim row was skipped)──▶ failed (with the contract's reason)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from app.core.eip712 import Voucher, channel_id
from app.core.types import Address


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"
    CLAIMED = "claimed"
    PAID_OUT = "paid_out"
    FAILED = "failed"


@dataclass(frozen=True)
class Receipt:
    id: str
    voucher: Voucher
    signature: bytes
    signer: Address
    price: int
    resource_id: str
    status: ReceiptStatus
    created_at: int  # unix seconds
    claim_tx: bytes | None = None
    failure: str | None = None

    @cached_property
    def channel_id(self) -> bytes:
        return channel_id(self.voucher.payer, self.voucher.payee, self.voucher.token)

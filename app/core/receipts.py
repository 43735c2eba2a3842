"""Receipts: the vouchers the server accepted, and their lifecycle.

accepted ──(a claim of its lane covers it)──▶ claimed ──(payee withdrew)──▶ paid_out
    └──(the chain can never pay its lane's voucher)──▶ failed (with the chain's reason)

A receipt stores one payee's step on one lane (payee, price, that payee's new cumulative amount)
and the signatures; the whole vector it signed is rebuilt from its lane's receipts, so what a
receipt stores does not grow with the number of payees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from app.core.eip712 import Entries, PayerVoucher
from app.core.types import Address


class ReceiptStatus(StrEnum):
    ACCEPTED = "accepted"
    CLAIMED = "claimed"
    PAID_OUT = "paid_out"
    FAILED = "failed"


@dataclass(frozen=True)
class Receipt:
    id: str
    payer: Address
    token: Address
    lane: int
    lane_seq: int  # the voucher's position on its lane, from 1
    payee: Address
    price: int
    cumulative_amount: int  # the payee's amount in the signed vector
    purchase: bytes
    entries_hash: bytes  # hash of the signed vector: what VoucherClaimed names
    signature: bytes
    acknowledgement: bytes  # the operator's countersignature
    signer: Address  # the payer, or the session key that signed
    resource_id: str
    status: ReceiptStatus
    created_at: int  # unix seconds
    claim_tx: bytes | None = None
    failure: str | None = None


@dataclass(frozen=True)
class SignedVoucher:
    """A whole voucher as accepted: what a payee needs to claim it without the server."""

    voucher: PayerVoucher
    signature: bytes
    acknowledgement: bytes
    signer: Address

    @property
    def entries(self) -> Entries:
        return self.voucher.entries


def receipt_id(voucher_digest: bytes) -> str:
    """A receipt's id derives from the voucher's EIP-712 digest, so a client can compute it, and
    the same voucher twice is the same receipt."""
    return "0x" + hashlib.sha256(voucher_digest).hexdigest()[:40]

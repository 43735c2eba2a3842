"""The packed calldata of `claim(token, data)` (docs/protocol.md, "The claim encoding").

One claim carries a payee table and one block per lane: the latest voucher, its signature, the
session grant when a key signed it, the operator's acknowledgement when someone else sends it, and
per entry the lane's previously claimed amount beside the signed one. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.eip712 import MAX_LANE_ENTRIES, Entries, PayerVoucher, SessionGrant

MAX_PAYEES_PER_CLAIM = 255

FLAG_GRANT = 1
FLAG_ACKNOWLEDGEMENT = 2


@dataclass(frozen=True)
class SignedGrant:
    grant: SessionGrant
    signature: bytes  # the payer's


@dataclass(frozen=True)
class ClaimBlock:
    """One lane's step from `previous` (its last claimed vector) to the signed `voucher`."""

    voucher: PayerVoucher
    signature: bytes
    previous: Entries = ()
    grant: SignedGrant | None = None
    acknowledgement: bytes | None = None


def payee_table(blocks: Sequence[ClaimBlock]) -> list[str]:
    """The distinct payees of the blocks, in address order."""
    return sorted({entry.payee for block in blocks for entry in block.voucher.entries}, key=str.lower)


def encode_claim(blocks: Sequence[ClaimBlock]) -> bytes:
    """The `data` argument of `claim` for these blocks. The caller keeps to MAX_PAYEES_PER_CLAIM
    distinct payees and MAX_LANE_ENTRIES entries per block (the settler does)."""
    payees = payee_table(blocks)
    assert 0 < len(payees) <= MAX_PAYEES_PER_CLAIM, "a claim carries 1-255 distinct payees"
    index = {payee: i for i, payee in enumerate(payees)}
    out = bytearray([len(payees)])
    for payee in payees:
        out += bytes.fromhex(payee[2:])
    for block in blocks:
        out += _encode_block(block, index)
    return bytes(out)


def _encode_block(block: ClaimBlock, index: dict[str, int]) -> bytes:
    voucher = block.voucher
    assert len(voucher.entries) <= MAX_LANE_ENTRIES
    previous = {entry.payee: entry.cumulative_amount for entry in block.previous}
    assert previous.keys() <= {entry.payee for entry in voucher.entries}, "payees are never dropped"
    # The flag announces exactly the fields written below (an empty acknowledgement still has its length).
    flags = (FLAG_GRANT if block.grant is not None else 0) | (
        FLAG_ACKNOWLEDGEMENT if block.acknowledgement is not None else 0
    )
    out = bytearray()
    out += bytes.fromhex(voucher.payer[2:])
    out += voucher.lane.to_bytes(8, "big")
    out += voucher.purchase
    out.append(flags)
    out += _with_length(block.signature)
    if block.grant is not None:
        grant = block.grant.grant
        out += bytes.fromhex(grant.signer[2:])
        out += grant.max_total.to_bytes(16, "big")
        out += grant.valid_until.to_bytes(8, "big")
        out += _with_length(block.grant.signature)
    if block.acknowledgement is not None:
        out += _with_length(block.acknowledgement)
    out.append(len(voucher.entries))
    for entry in voucher.entries:
        out.append(index[entry.payee])
        out += previous.get(entry.payee, 0).to_bytes(16, "big")
        out += entry.cumulative_amount.to_bytes(16, "big")
    return bytes(out)


def _with_length(blob: bytes) -> bytes:
    assert len(blob) < 2**16
    return len(blob).to_bytes(2, "big") + blob

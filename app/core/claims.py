"""The packed calldata of `claim(token, data)` (docs/protocol.md, "The claim encoding").

One claim carries a payee table and one block per lane: the latest voucher, its signature, the
session grant when a key signed it, the operator's acknowledgement when someone else sends it, and
per entry the lane's previously claimed amount beside the signed one. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.eip712 import MAX_LANE_ENTRIES, Entries, Entry, PayerVoucher, SessionGrant
from app.core.types import Address, checksum

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


class MalformedClaim(Exception):
    """The data ends inside a block, or a block's flags have other bits: the hub reverts the whole
    claim (`MalformedClaim(offset)`)."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"malformed claim data at byte {offset}")
        self.offset = offset


ZERO_ADDRESS = Address("0x" + "00" * 20)


def decode_claim(data: bytes, token: Address) -> list[ClaimBlock]:
    """The blocks of `claim(token, data)`, as the hub reads them. A payee index outside the table
    decodes as the zero address, and each block's `previous` keeps only its non-zero amounts (the
    vector whose hash is compared with the lane's commitment), so that `ledger.claim_outcome`
    sees exactly what the hub does. Raises MalformedClaim where the hub reverts."""
    reader = _Reader(data)
    payees = [reader.address() for _ in range(reader.uint(1))]
    blocks = []
    while not reader.done:
        payer = reader.address()
        lane = reader.uint(8)
        purchase = reader.take(32)
        flags_at = reader.offset
        flags = reader.uint(1)
        if flags & ~(FLAG_GRANT | FLAG_ACKNOWLEDGEMENT):
            raise MalformedClaim(flags_at)
        signature = reader.take(reader.uint(2))
        grant = None
        if flags & FLAG_GRANT:
            signer = reader.address()
            max_total = reader.uint(16)
            valid_until = reader.uint(8)
            grant_signature = reader.take(reader.uint(2))
            grant = SignedGrant(
                SessionGrant(payer, signer, token, lane, max_total, valid_until), grant_signature
            )
        acknowledgement = reader.take(reader.uint(2)) if flags & FLAG_ACKNOWLEDGEMENT else None
        entries, previous = [], []
        for _ in range(reader.uint(1)):
            index = reader.uint(1)
            payee = payees[index] if index < len(payees) else ZERO_ADDRESS
            before, after = reader.uint(16), reader.uint(16)
            entries.append(Entry(payee, after))
            if before:
                previous.append(Entry(payee, before))
        voucher = PayerVoucher(payer, token, lane, tuple(entries), purchase)
        blocks.append(ClaimBlock(voucher, signature, tuple(previous), grant, acknowledgement))
    return blocks


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self.offset = 0

    @property
    def done(self) -> bool:
        return self.offset >= len(self._data)

    def take(self, length: int) -> bytes:
        if self.offset + length > len(self._data):
            raise MalformedClaim(self.offset)
        chunk = self._data[self.offset : self.offset + length]
        self.offset += length
        return chunk

    def uint(self, length: int) -> int:
        return int.from_bytes(self.take(length), "big")

    def address(self) -> Address:
        return checksum(self.take(20))

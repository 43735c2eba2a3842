"""The packed claim encoding: decoding is the encoder's inverse, and reads what the hub reads."""

from __future__ import annotations

import pytest

from app.core.claims import ClaimBlock, MalformedClaim, SignedGrant, decode_claim, encode_claim
from app.core.eip712 import Entry, PayerVoucher, SessionGrant
from app.core.types import to_address

TOKEN = to_address("0x" + "33" * 20)
PAYER = to_address("0x" + "11" * 20)
A, B, C = (to_address("0x" + c * 40) for c in "abc")


def voucher(lane: int, *entries: Entry, payer: str = PAYER) -> PayerVoucher:
    return PayerVoucher(to_address(payer), TOKEN, lane, tuple(entries), bytes(range(32)))


def test_blocks_survive_a_round_trip_through_the_encoding() -> None:
    grant = SignedGrant(SessionGrant(PAYER, C, TOKEN, 7, 10**20, 2**40), b"\x01" * 65)
    blocks = [
        ClaimBlock(voucher(0, Entry(A, 5), Entry(B, 9)), b"\x02" * 65, previous=(Entry(B, 4),)),
        ClaimBlock(voucher(7, Entry(C, 2**128 - 1)), b"\x03" * 64, grant=grant, acknowledgement=b"\x04" * 65),
        ClaimBlock(
            voucher(2**64 - 1, Entry(A, 1), payer="0x" + "22" * 20), b"", acknowledgement=b"\x05" * 65
        ),
    ]
    assert decode_claim(encode_claim(blocks), TOKEN) == blocks


def test_a_payee_index_outside_the_table_reads_as_the_zero_address() -> None:
    data = bytearray(encode_claim([ClaimBlock(voucher(0, Entry(A, 5)), b"\x02" * 65)]))
    data[-33] = 9  # the entry's payee index: the table has one payee
    (block,) = decode_claim(bytes(data), TOKEN)
    assert block.voucher.entries == (Entry(to_address("0x" + "00" * 20), 5),)


def test_data_that_ends_inside_a_block_is_malformed() -> None:
    data = encode_claim([ClaimBlock(voucher(0, Entry(A, 5)), b"\x02" * 65)])
    with pytest.raises(MalformedClaim):
        decode_claim(data[:-1], TOKEN)


def test_flags_with_other_bits_are_malformed_at_their_offset() -> None:
    data = bytearray(encode_claim([ClaimBlock(voucher(0, Entry(A, 5)), b"\x02" * 65)]))
    flags_at = 1 + 20 + 20 + 8 + 32
    data[flags_at] = 4
    with pytest.raises(MalformedClaim) as caught:
        decode_claim(bytes(data), TOKEN)
    assert caught.value.offset == flags_at

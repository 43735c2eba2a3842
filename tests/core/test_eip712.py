"""Python's EIP-712 digests are the ones wallets sign: eth-account, given the JSON typed data the
server hands out, signs exactly the digest the server (and the hub) recovers from."""

from __future__ import annotations

from eth_account import Account

from app.core.claims import ClaimBlock, encode_claim
from app.core.eip712 import (
    Acknowledgement,
    Domain,
    Entry,
    PayerVoucher,
    SessionGrant,
    Signable,
    digest,
    entries_hash,
    typed_data,
)
from app.core.signatures import recover, sign
from app.core.types import Address, to_address

DOMAIN = Domain(chain_id=31337, hub=to_address("0x" + "ab" * 20))
WALLET = Account.from_key(b"\x01" * 32)
PAYEES = (Address("0x" + "0" * 39 + "1"), to_address("0x" + "ff" * 20))


def wallet_signs(message: Signable) -> bytes:
    return bytes(Account.sign_typed_data(WALLET.key, full_message=typed_data(DOMAIN, message)).signature)


def test_a_wallet_signing_a_payer_voucher_signs_our_digest() -> None:
    voucher = PayerVoucher(
        to_address(WALLET.address),
        PAYEES[1],
        7,
        (Entry(PAYEES[0], 10), Entry(PAYEES[1], 2**127)),
        b"\x05" * 32,
    )
    assert recover(digest(DOMAIN, voucher), wallet_signs(voucher)) == WALLET.address


def test_a_wallet_signing_a_session_grant_signs_our_digest() -> None:
    grant = SessionGrant(to_address(WALLET.address), PAYEES[1], PAYEES[0], 3, 5_000_000, 2**40)
    assert recover(digest(DOMAIN, grant), wallet_signs(grant)) == WALLET.address


def test_an_acknowledgement_is_typed_data_too() -> None:
    ack = Acknowledgement(b"\x09" * 32)
    assert recover(digest(DOMAIN, ack), wallet_signs(ack)) == WALLET.address


def test_a_signature_with_v_0_or_1_recovers_nobody_as_on_chain() -> None:
    signature = sign(b"\x07" * 32, WALLET.key)
    assert recover(b"\x07" * 32, signature) == WALLET.address
    assert recover(b"\x07" * 32, signature[:64] + bytes([signature[64] - 27])) is None


def test_the_empty_vector_hashes_like_an_empty_eip712_array() -> None:
    assert entries_hash(()) == bytes.fromhex(
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_a_claim_block_packs_previous_and_next_amounts_side_by_side() -> None:
    voucher = PayerVoucher(to_address(WALLET.address), PAYEES[0], 1, (Entry(PAYEES[0], 9),), b"\x00" * 32)
    data = encode_claim([ClaimBlock(voucher, b"\x01" * 65, previous=(Entry(PAYEES[0], 4),))])
    assert data[0] == 1
    assert data[1:21] == bytes.fromhex(PAYEES[0][2:])
    assert data[-33:] == bytes([0]) + (4).to_bytes(16, "big") + (9).to_bytes(16, "big")

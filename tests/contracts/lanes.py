"""Vouchers, grants, acknowledgements and claim blocks for the hub's tests, built with app/core (the
encoding the server uses), plus a raw encoder for blocks the server would never build."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.types import TxReceipt

from app.core.claims import ClaimBlock, SignedGrant
from app.core.eip712 import Acknowledgement, Entries, Entry, PayerVoucher, SessionGrant, digest, entries_hash
from app.core.types import to_address
from tests.factories import Chain, sign, skip_reason

ZERO_HASH = bytes(32)


def entries(amounts: Mapping[str, int]) -> Entries:
    """Entries in the order the protocol wants them: ascending by payee address."""
    ordered = sorted(amounts.items(), key=lambda item: int(item[0], 16))
    return tuple(Entry(to_address(payee), amount) for payee, amount in ordered)


def make_voucher(
    chain: Chain,
    payer: str,
    amounts: Mapping[str, int],
    lane: int = 0,
    token: Contract | None = None,
    purchase: bytes | None = None,
) -> PayerVoucher:
    return PayerVoucher(
        payer=to_address(payer),
        token=to_address((token or chain.usdc).address),
        lane=lane,
        entries=entries(amounts),
        purchase=purchase or keccak(text=f"purchase/{sorted(amounts.items())}"),
    )


def make_grant(
    chain: Chain,
    payer: LocalAccount,
    signer: str,
    max_total: int,
    valid_until: int | None = None,
    lane: int = 0,
    token: Contract | None = None,
    signed_by: LocalAccount | None = None,
    payer_address: str | None = None,
) -> SignedGrant:
    """A SessionGrant signed by `payer` (or `signed_by`, to forge one)."""
    grant = SessionGrant(
        payer=to_address(payer_address or payer.address),
        signer=to_address(signer),
        token=to_address((token or chain.usdc).address),
        lane=lane,
        max_total=max_total,
        valid_until=valid_until if valid_until is not None else chain.timestamp() + 86_400,
    )
    return SignedGrant(grant=grant, signature=sign((signed_by or payer).key, chain.domain, grant))


def acknowledge(chain: Chain, voucher: PayerVoucher, operator: LocalAccount | None = None) -> bytes:
    """The operator's (by default the owner's) signature over Acknowledgement(voucherDigest)."""
    voucher_digest = digest(chain.domain, voucher)
    return sign((operator or chain.owner).key, chain.domain, Acknowledgement(voucher_digest))


def signed_block(
    chain: Chain,
    voucher: PayerVoucher,
    signer: LocalAccount,
    previous: Entries = (),
    grant: SignedGrant | None = None,
    acknowledgement: bytes | None = None,
) -> ClaimBlock:
    return ClaimBlock(
        voucher=voucher,
        signature=sign(signer.key, chain.domain, voucher),
        previous=previous,
        grant=grant,
        acknowledgement=acknowledgement,
    )


def raw_claim(payees: Sequence[str], *blocks: bytes) -> bytes:
    """`data` for claim() from a payee table and blocks already encoded."""
    return bytes([len(payees)]) + b"".join(bytes.fromhex(p[2:]) for p in payees) + b"".join(blocks)


def raw_block(
    payer: str,
    rows: Sequence[tuple[int, int, int]],
    signature: bytes = bytes(65),
    lane: int = 0,
    purchase: bytes = ZERO_HASH,
    flags: int | None = None,
    grant: bytes = b"",
    acknowledgement: bytes | None = None,
) -> bytes:
    """One block exactly as given: (payeeIndex, previous, next) rows, whatever they mean."""
    if flags is None:
        flags = (1 if grant else 0) | (2 if acknowledgement is not None else 0)
    out = bytes.fromhex(payer[2:]) + lane.to_bytes(8, "big") + purchase + bytes([flags])
    out += len(signature).to_bytes(2, "big") + signature + grant
    if acknowledgement is not None:
        out += len(acknowledgement).to_bytes(2, "big") + acknowledgement
    out += bytes([len(rows)])
    for index, previous, next_amount in rows:
        out += bytes([index]) + previous.to_bytes(16, "big") + next_amount.to_bytes(16, "big")
    return out


def send_raw(
    chain: Chain, data: bytes, sender: LocalAccount | None = None, token: str | None = None
) -> TxReceipt:
    return chain.send(chain.hub.functions.claim(token or chain.usdc.address, data), sender or chain.owner)


def claimed(chain: Chain, receipt: TxReceipt) -> list[dict[str, Any]]:
    return chain.events(receipt, "VoucherClaimed")


def skipped(chain: Chain, receipt: TxReceipt) -> list[dict[str, Any]]:
    return chain.events(receipt, "VoucherSkipped")


def claimed_event(voucher: PayerVoucher, signer: str, amount: int) -> dict[str, Any]:
    return {
        "payer": voucher.payer,
        "token": voucher.token,
        "lane": voucher.lane,
        "entriesHash": entries_hash(voucher.entries),
        "signer": to_address(signer),
        "amount": amount,
    }


def skipped_event(voucher: PayerVoucher, reason: str, hashed: bool = True) -> dict[str, Any]:
    return {
        "payer": voucher.payer,
        "token": voucher.token,
        "lane": voucher.lane,
        "entriesHash": entries_hash(voucher.entries) if hashed else ZERO_HASH,
        "reason": skip_reason(reason),
    }


def pay(
    chain: Chain,
    payer: LocalAccount,
    amounts: Mapping[str, int],
    previous: Mapping[str, int] | None = None,
    lane: int = 0,
    token: Contract | None = None,
) -> TxReceipt:
    """The operator claims a voucher `payer` signed for `amounts` on `lane`, from the lane's `previous`."""
    voucher = make_voucher(chain, payer.address, amounts, lane=lane, token=token)
    block = signed_block(chain, voucher, payer, previous=entries(previous or {}))
    return chain.claim([block], token=token)


def pay_channel(
    chain: Chain,
    payer: LocalAccount,
    payee: str,
    cumulative: int,
    paid: int = 0,
    token: Contract | None = None,
) -> TxReceipt:
    """v1's channel on v2: a lane of its own for (payer, payee), claimed from `paid` to `cumulative`."""
    lane = int(payee, 16) % 2**64
    return pay(chain, payer, {payee: cumulative}, {payee: paid} if paid else None, lane=lane, token=token)

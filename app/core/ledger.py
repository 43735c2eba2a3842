"""The ledger of protocol v2 as pure functions: what the server accepts, and what a claim pays.

Both halves are one model. `check_pay` is what the server acknowledges; `claim_outcome` is what
the hub does with a claim block (contracts/MicropaymentHub.sol, "What a claim block does"), in the
same order and with the same clocks, so the settler can predict the chain and the differential test
can hold the two against each other. The promise they keep together: a voucher `check_pay`
accepted, claimed before its deadlines, is paid in full by `claim_outcome`.

    lane:  claimed vector ──(pays)──▶ accepted vector ──(check_pay: + price on one payee)──▶ next
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from app.core.eip712 import (
    MAX_LANE,
    MAX_VALID_UNTIL,
    Entries,
    Entry,
    PayerVoucher,
    SessionGrant,
)
from app.core.eip712 import (
    MAX_LANE_ENTRIES as MAX_LANE_ENTRIES,
)
from app.core.errors import (
    CumulativeMismatch,
    InsufficientFunds,
    InvalidInput,
    LaneFull,
    SignerCapExceeded,
    SignerNotAuthorized,
)
from app.core.types import UINT128_MAX, Address


class SkipReason(IntEnum):
    """IMicropaymentHub.SkipReason, same order: why a claim block paid nothing."""

    ENTRIES_INVALID = 0
    PREVIOUS_MISMATCH = 1
    NOTHING_DUE = 2
    NOT_ACKNOWLEDGED = 3
    BAD_SIGNATURE = 4
    GRANT_INVALID = 5
    SIGNER_EXPIRED = 6
    SIGNER_REVOKED = 7
    CAP_EXCEEDED = 8
    INSUFFICIENT_BALANCE = 9


# After these, the same voucher can never be paid: waiting changes nothing.
FINAL_SKIPS = frozenset(
    {
        SkipReason.ENTRIES_INVALID,
        SkipReason.BAD_SIGNATURE,
        SkipReason.GRANT_INVALID,
        SkipReason.SIGNER_EXPIRED,
        SkipReason.SIGNER_REVOKED,
        SkipReason.CAP_EXCEEDED,
    }
)


def payee_order(payee: str) -> int:
    """Entries are ordered by payee as a number, as the contract compares addresses."""
    return int(payee, 16)


def raised(entries: Entries, payee: Address, price: int) -> Entries:
    """`entries` with `payee`'s amount raised by `price`, inserted in order if it is new."""
    out = [e if e.payee != payee else Entry(payee, e.cumulative_amount + price) for e in entries]
    if all(e.payee != payee for e in entries):
        out.append(Entry(payee, price))
        out.sort(key=lambda e: payee_order(e.payee))
    return tuple(out)


def total(entries: Entries) -> int:
    return sum(entry.cumulative_amount for entry in entries)


def amounts(entries: Entries) -> dict[Address, int]:
    return {entry.payee: entry.cumulative_amount for entry in entries}


def entries_valid(entries: Entries) -> bool:
    """The shape the contract accepts: 1-32 entries, payees non-zero and strictly ascending,
    amounts in 1..2^128-1."""
    if not 0 < len(entries) <= MAX_LANE_ENTRIES:
        return False
    previous = 0
    for entry in entries:
        order = payee_order(entry.payee)
        if order <= previous or not 0 < entry.cumulative_amount <= UINT128_MAX:
            return False
        previous = order
    return True


def dominates(new: Entries, old: Entries) -> bool:
    """Every payee of `old` is in `new` with at least its amount."""
    now = amounts(new)
    return all(now.get(e.payee, 0) >= e.cumulative_amount for e in old)


# ---------------------------------------------------------------- the server side


@dataclass(frozen=True)
class Account:
    """A payer's money in one token, as the server sees it."""

    balance: int  # confirmed on chain
    pending_withdrawal: int  # requested on chain, not yet withdrawn
    outstanding: int  # over the payer's lanes: accepted total - claimed total

    @property
    def headroom(self) -> int:
        return max(0, self.balance - self.pending_withdrawal - self.outstanding)


@dataclass(frozen=True)
class Grant:
    """A session grant the server holds, with the revocation the chain has seen for its key."""

    grant: SessionGrant
    signature: bytes
    revoked_at: int | None  # when the revocation takes effect on chain

    @property
    def deadline(self) -> int:
        """The last chain second at which a claim of this key's vouchers still pays."""
        end = self.grant.valid_until
        if self.revoked_at is not None:
            end = min(end, self.revoked_at - 1)
        return end


def check_voucher_shape(voucher: PayerVoucher) -> None:
    """What any voucher must be before it is worth a signature check."""
    if not 0 <= voucher.lane <= MAX_LANE:
        raise InvalidInput(f"lane must be below 2^64, got {voucher.lane}")
    if len(voucher.purchase) != 32:
        raise InvalidInput("purchase must be 32 bytes")
    if not entries_valid(voucher.entries):
        raise InvalidInput(
            f"entries must be 1-{MAX_LANE_ENTRIES} payees in ascending address order, "
            "each with an amount between 1 and 2^128-1"
        )


def check_grant_shape(grant: SessionGrant) -> None:
    if not 0 <= grant.lane <= MAX_LANE:
        raise InvalidInput(f"lane must be below 2^64, got {grant.lane}")
    if not 0 < grant.max_total <= UINT128_MAX:
        raise InvalidInput("maxTotal must be between 1 and 2^128-1")
    if not 0 < grant.valid_until <= MAX_VALID_UNTIL:
        raise InvalidInput("validUntil must be between 1 and 2^64-1")
    if grant.signer == grant.payer:
        raise InvalidInput("a session key must be another address than the payer")


def check_pay(
    voucher: PayerVoucher,
    payee: Address,
    price: int,
    accepted: Entries,
    account: Account,
    grant: Grant | None,
    chain_now: int,
    settle_margin: int,
) -> None:
    """Rules 2-4 of "What the server accepts", for a voucher whose signer was already recovered:
    `grant` is None when the payer signed, else the grant of the key that signed. Raises the
    Refusal that says why not."""
    expected = raised(accepted, payee, price)
    if len(expected) > MAX_LANE_ENTRIES:
        raise LaneFull(
            f"lane {voucher.lane} already pays {MAX_LANE_ENTRIES} payees: pay from another lane",
            lane=voucher.lane,
        )
    if voucher.entries != expected:
        raise CumulativeMismatch(
            f"the voucher must be the lane's last accepted vector with {payee} raised by {price}: "
            "resynchronise from the latest voucher",
            expected=expected,
        )
    if grant is not None:
        check_grant_usable(grant, voucher, chain_now, settle_margin)
    if account.headroom < price:
        raise InsufficientFunds(
            f"headroom {account.headroom} does not cover the price {price}: deposit more",
            headroom=account.headroom,
            price=price,
        )


def check_grant_usable(grant: Grant, voucher: PayerVoucher, chain_now: int, settle_margin: int) -> None:
    """The key's rules, as the chain will apply them when the voucher is claimed: same lane and
    token, unexpired and unrevoked with `settle_margin` seconds left to claim, cap covers the total."""
    g = grant.grant
    if (g.payer, g.token, g.lane) != (voucher.payer, voucher.token, voucher.lane):
        raise SignerNotAuthorized(
            f"this session key may sign on lane {g.lane} in token {g.token} only",
            lane=g.lane,
            token=g.token,
        )
    if grant.revoked_at is not None:
        # Stricter than the chain, which honours the key until the revocation takes effect: that
        # delay is for settling what was accepted before; the payer wants the key stopped now.
        raise SignerNotAuthorized(
            "the payer revoked this session key: authorise a new one", revoked_at=grant.revoked_at
        )
    if grant.deadline < chain_now + settle_margin:
        raise SignerNotAuthorized(
            "this session key expires too soon to settle its vouchers: authorise a new one",
            valid_until=g.valid_until,
        )
    if voucher.total > g.max_total:
        raise SignerCapExceeded(
            f"the lane would total {voucher.total}, above the key's cap of {g.max_total}: "
            "authorise a new key",
            cap=g.max_total,
            total=voucher.total,
        )


# ---------------------------------------------------------------- the chain side


@dataclass(frozen=True)
class ChainLane:
    """What the hub knows when it claims one block."""

    claimed: Entries  # the vector whose hash is the lane's commitment
    balance: int
    revoked_at: int  # of the block's grant's signer; 0 = never revoked
    now: int  # block.timestamp


@dataclass(frozen=True)
class BlockFacts:
    """What the signatures of a block prove at the claim's block.timestamp, by ecrecover and the
    payer's on-chain authorizations (authorizeSigner / revokeSigner); never EIP-1271, whose answer
    the wallet could change after the server acknowledged.

    "Signed by the payer" means: recovers the payer, or a key the payer authorized whose revocation
    has not taken effect (revoked_at == 0 or now < revoked_at)."""

    previous: Entries  # what the block claims the lane's last claimed vector is
    voucher: PayerVoucher
    acknowledged: bool  # sent by the operator, or carrying its acknowledgement
    payer_signed: bool  # the voucher's signature is the payer's, or an authorized, unrevoked key's
    grant: SessionGrant | None  # the grant in the block, if any
    # the grant is signed by the payer (as above), for this token and lane, and its signer signed
    grant_valid: bool
    # the voucher recovers a key the payer authorized whose revocation has taken effect
    signer_revoked: bool = False


def claim_outcome(block: BlockFacts, lane: ChainLane) -> SkipReason | None:
    """The first reason the hub skips this block, or None when it pays `total(next) - total(previous)`."""
    voucher = block.voucher
    if not entries_valid(voucher.entries) or not _previous_fits(block.previous, voucher.entries):
        return SkipReason.ENTRIES_INVALID
    if block.previous != lane.claimed:
        return SkipReason.PREVIOUS_MISMATCH
    if total(voucher.entries) == total(block.previous):
        return SkipReason.NOTHING_DUE
    if not block.acknowledged:
        return SkipReason.NOT_ACKNOWLEDGED
    if not block.payer_signed:
        if block.grant is None:
            return SkipReason.SIGNER_REVOKED if block.signer_revoked else SkipReason.BAD_SIGNATURE
        if not block.grant_valid:
            return SkipReason.GRANT_INVALID
        if lane.now > block.grant.valid_until:
            return SkipReason.SIGNER_EXPIRED
        if lane.revoked_at != 0 and lane.now >= lane.revoked_at:
            return SkipReason.SIGNER_REVOKED
        if total(voucher.entries) > block.grant.max_total:
            return SkipReason.CAP_EXCEEDED
    if total(voucher.entries) - total(block.previous) > lane.balance:
        return SkipReason.INSUFFICIENT_BALANCE
    return None


def _previous_fits(previous: Entries, entries: Entries) -> bool:
    """Previous amounts ride beside the new ones: each previous payee is in the new vector, at
    most at its new amount (the encoding cannot carry anything else)."""
    now = amounts(entries)
    return all(0 < e.cumulative_amount <= now.get(e.payee, 0) for e in previous)

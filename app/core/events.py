"""The hub's events as plain values: what the index is built from.

Each carries where it happened (block number and hash, log index, transaction)
so the indexer can order them, apply each once, and undo them on a reorg.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from app.core.types import Address


class SkipReason(IntEnum):
    """IMicropaymentHub.SkipReason, same order."""

    UNKNOWN_TOKEN = 0
    INVALID_PAYEE = 1
    AMOUNT_TOO_LARGE = 2
    NOTHING_DUE = 3
    BAD_SIGNATURE = 4
    SIGNER_WRONG_TOKEN = 5
    SIGNER_EXPIRED = 6
    SIGNER_REVOKED = 7
    SIGNER_EXHAUSTED = 8
    NO_BALANCE = 9


@dataclass(frozen=True)
class Position:
    block_number: int
    block_hash: bytes
    log_index: int
    tx_hash: bytes
    timestamp: int


@dataclass(frozen=True)
class Deposited:
    at: Position
    payer: Address
    token: Address
    sender: Address  # `from` in the contract event
    amount: int


@dataclass(frozen=True)
class WithdrawalRequested:
    at: Position
    payer: Address
    token: Address
    amount: int
    available_at: int


@dataclass(frozen=True)
class WithdrawalCancelled:
    at: Position
    payer: Address
    token: Address


@dataclass(frozen=True)
class Withdrawn:
    at: Position
    payer: Address
    token: Address
    amount: int


@dataclass(frozen=True)
class SignerRegistered:
    at: Position
    payer: Address
    signer: Address
    token: Address
    allowance: int
    valid_until: int
    nonce: int


@dataclass(frozen=True)
class SignerRevoked:
    at: Position
    payer: Address
    signer: Address
    effective_at: int


@dataclass(frozen=True)
class Claimed:
    at: Position
    payer: Address
    payee: Address
    token: Address
    signer: Address
    amount: int
    fee: int
    claimed: int  # the channel's new cumulative claimed amount


@dataclass(frozen=True)
class ClaimSkipped:
    at: Position
    payer: Address
    payee: Address
    token: Address
    cumulative_amount: int
    reason: SkipReason


@dataclass(frozen=True)
class EarningsWithdrawn:
    at: Position
    payee: Address
    token: Address
    to: Address
    amount: int


@dataclass(frozen=True)
class TokenAllowed:
    at: Position
    token: Address
    allowed: bool


@dataclass(frozen=True)
class FeeSet:
    at: Position
    fee_bps: int
    recipient: Address


HubEvent = (
    Deposited
    | WithdrawalRequested
    | WithdrawalCancelled
    | Withdrawn
    | SignerRegistered
    | SignerRevoked
    | Claimed
    | ClaimSkipped
    | EarningsWithdrawn
    | TokenAllowed
    | FeeSet
)

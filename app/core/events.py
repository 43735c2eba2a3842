"""The hub's events as plain values: what the index is built from.

Each carries where it happened (block number and hash, log index, transaction)
so the indexer can order them, apply each once, and undo them on a reorg.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.ledger import SkipReason
from app.core.types import Address


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
class SignerAuthorized:
    at: Position
    payer: Address
    signer: Address  # an ECDSA key that signs the payer's vouchers and grants until revoked


@dataclass(frozen=True)
class SignerRevoked:
    at: Position
    payer: Address
    signer: Address
    effective_at: int


@dataclass(frozen=True)
class VoucherClaimed:
    at: Position
    payer: Address
    token: Address
    lane: int
    entries_hash: bytes  # the lane's new commitment: the hash of the claimed vector
    signer: Address
    amount: int  # the block's total delta, taken from the payer's balance


@dataclass(frozen=True)
class VoucherSkipped:
    at: Position
    payer: Address
    token: Address
    lane: int
    entries_hash: bytes  # of the block's vector, or zero when its entries were invalid
    reason: SkipReason


@dataclass(frozen=True)
class Earned:
    at: Position
    payee: Address
    token: Address
    amount: int  # credited to the payee's earnings
    fee: int  # taken from the payee's gross for the fee recipient


@dataclass(frozen=True)
class DepositFailed:
    at: Position
    payer: Address
    token: Address
    nonce: bytes


@dataclass(frozen=True)
class OperatorSet:
    at: Position
    operator: Address


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
    | SignerAuthorized
    | SignerRevoked
    | VoucherClaimed
    | VoucherSkipped
    | Earned
    | DepositFailed
    | OperatorSet
    | EarningsWithdrawn
    | TokenAllowed
    | FeeSet
)

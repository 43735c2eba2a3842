"""The acceptance rules of the protocol, as pure functions.

A voucher for an action priced `price` is accepted only if:
  1. it is signed by the payer, or by a session key of the payer that is
     registered, for this token, unexpired (with time left to settle),
     unrevoked, and whose allowance not yet spoken for covers `price`;
  2. cumulativeAmount == accepted + price on its channel;
  3. headroom = balance - pending withdrawal - sum(accepted - claimed) >= price.
The store calls `check_voucher` inside the transaction that holds the payer's
lock, with the states it just read, and writes the result in that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.eip712 import Voucher
from app.core.errors import (
    CumulativeMismatch,
    InsufficientFunds,
    SignerAllowanceExceeded,
    SignerNotAuthorized,
)
from app.core.types import Address


@dataclass(frozen=True)
class Account:
    """A payer's money in one token, as the server sees it."""

    balance: int  # confirmed on chain
    pending_withdrawal: int  # requested on chain, not yet withdrawn
    outstanding: int  # sum over the payer's channels of accepted - claimed

    @property
    def headroom(self) -> int:
        return max(0, self.balance - self.pending_withdrawal - self.outstanding)


@dataclass(frozen=True)
class SignedVoucher:
    """The latest accepted voucher of a channel, returned on a mismatch so the client can resynchronise."""

    voucher: Voucher
    signature: bytes


@dataclass(frozen=True)
class Channel:
    accepted: int  # cumulative amount of the latest accepted voucher
    claimed: int  # cumulative amount claimed on chain
    latest: SignedVoucher | None


@dataclass(frozen=True)
class SessionKey:
    signer: Address
    token: Address
    allowance: int  # remaining on chain
    outstanding: int  # accepted from this key, not yet claimed
    valid_until: int
    revoke_at: int | None


def check_session_key(
    key: SessionKey | None, token: Address, price: int, now: int, settle_margin: int
) -> None:
    """Rule 1 for a voucher signed by a session key. `settle_margin` is the time the settler needs
    to get a claim mined: a key that expires or is revoked sooner can no longer be paid from."""
    if key is None:
        raise SignerNotAuthorized("the signer is neither the payer nor one of its registered session keys")
    if key.token != token:
        raise SignerNotAuthorized(f"this session key is authorised for token {key.token}", token=key.token)
    deadline = key.valid_until if key.revoke_at is None else min(key.valid_until, key.revoke_at - 1)
    if deadline < now + settle_margin:
        raise SignerNotAuthorized(
            "this session key expires or is revoked too soon to settle: authorise a new one",
            valid_until=key.valid_until,
            revoke_at=key.revoke_at,
        )
    available = key.allowance - key.outstanding
    if available < price:
        raise SignerAllowanceExceeded(
            f"the session key has {max(available, 0)} left, the price is {price}: authorise a new one",
            available=max(available, 0),
            price=price,
        )


def check_voucher(voucher: Voucher, price: int, channel: Channel, account: Account) -> None:
    """Rules 2 and 3. The base is the higher of accepted and claimed: a voucher the payer signed
    outside this server may have been claimed already, and a new voucher must pay beyond it."""
    base = max(channel.accepted, channel.claimed)
    expected = base + price
    if voucher.cumulative_amount != expected:
        raise CumulativeMismatch(
            f"cumulativeAmount must be {expected} (accepted {base} + price {price}), "
            f"got {voucher.cumulative_amount}: resynchronise from the latest voucher",
            expected=expected,
            latest=channel.latest,
        )
    if account.headroom < price:
        raise InsufficientFunds(
            f"headroom {account.headroom} does not cover the price {price}: deposit more",
            headroom=account.headroom,
            price=price,
        )

"""Applying the hub's events to the store. Called by the indexer, in block order, inside the
transaction that also moves the indexer's cursor, so each event is applied exactly once."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from app.core import events as ev
from app.core.eip712 import channel_id
from app.core.receipts import ReceiptStatus
from app.core.types import Address
from app.store.tables import (
    accounts,
    channels,
    earnings,
    provisional_withdrawals,
    receipts,
    session_keys,
    tokens,
)

# Skip reasons after which the same voucher can never pay: its receipt fails for good.
FINAL_SKIPS = {
    ev.SkipReason.UNKNOWN_TOKEN,
    ev.SkipReason.INVALID_PAYEE,
    ev.SkipReason.AMOUNT_TOO_LARGE,
    ev.SkipReason.BAD_SIGNATURE,
    ev.SkipReason.SIGNER_WRONG_TOKEN,
    ev.SkipReason.SIGNER_EXPIRED,
    ev.SkipReason.SIGNER_REVOKED,
}
UINT40_MAX = 2**40 - 1


def apply(conn: Connection, event: ev.HubEvent) -> None:
    """Applies one event. Every branch is a small, explicit state change."""
    match event:
        case ev.Deposited():
            _ensure_account(conn, event.payer, event.token)
            _add_balance(conn, event.payer, event.token, event.amount)
        case ev.WithdrawalRequested():
            _ensure_account(conn, event.payer, event.token)
            _set_withdrawal(conn, event.payer, event.token, event.amount, event.available_at)
        case ev.WithdrawalCancelled():
            _set_withdrawal(conn, event.payer, event.token, 0, None)
        case ev.Withdrawn():
            _add_balance(conn, event.payer, event.token, -event.amount)
            _set_withdrawal(conn, event.payer, event.token, 0, None)
        case ev.SignerRegistered():
            _register_key(conn, event)
        case ev.SignerRevoked():
            conn.execute(
                update(session_keys)
                .where(session_keys.c.payer == event.payer, session_keys.c.signer == event.signer)
                .values(revoke_at=event.effective_at)
            )
        case ev.Claimed():
            _apply_claim(conn, event)
        case ev.ClaimSkipped():
            _apply_skip(conn, event)
        case ev.EarningsWithdrawn():
            _ensure_earnings(conn, event.payee, event.token)
            row = conn.execute(
                select(earnings).where(earnings.c.payee == event.payee, earnings.c.token == event.token)
            ).one()
            conn.execute(
                update(earnings)
                .where(earnings.c.payee == event.payee, earnings.c.token == event.token)
                .values(
                    withdrawable=max(row.withdrawable - event.amount, 0),
                    withdrawn=row.withdrawn + event.amount,
                )
            )
            conn.execute(
                update(receipts)
                .where(
                    receipts.c.payee == event.payee,
                    receipts.c.token == event.token,
                    receipts.c.status == ReceiptStatus.CLAIMED.value,
                )
                .values(status=ReceiptStatus.PAID_OUT.value)
            )
        case ev.TokenAllowed() | ev.FeeSet():
            pass  # tokens are recorded by the indexer with their metadata (record_token)


def replace_provisional(conn: Connection, unconfirmed: list[ev.HubEvent]) -> None:
    """Records the withdrawal requests of blocks not yet confirmed, replacing the previous set."""
    conn.execute(provisional_withdrawals.delete())
    latest: dict[tuple[Address, Address], ev.WithdrawalRequested] = {}
    for event in unconfirmed:
        if isinstance(event, ev.WithdrawalRequested):
            latest[(event.payer, event.token)] = event
    for event in latest.values():
        conn.execute(
            provisional_withdrawals.insert().values(
                payer=event.payer,
                token=event.token,
                amount=event.amount,
                available_at=event.available_at,
                block_number=event.at.block_number,
            )
        )


def record_token(
    conn: Connection, address: Address, symbol: str, name: str, decimals: int, allowed: bool
) -> None:
    exists = conn.execute(select(tokens.c.address).where(tokens.c.address == address)).first()
    if exists:
        conn.execute(update(tokens).where(tokens.c.address == address).values(allowed=allowed))
    else:
        conn.execute(
            tokens.insert().values(
                address=address, symbol=symbol, name=name, decimals=decimals, allowed=allowed
            )
        )


def _ensure_account(conn: Connection, payer: Address, token: Address) -> None:
    exists = conn.execute(
        select(accounts.c.payer).where(accounts.c.payer == payer, accounts.c.token == token)
    ).first()
    if not exists:
        conn.execute(
            accounts.insert().values(
                payer=payer,
                token=token,
                balance=0,
                withdrawal_amount=0,
                withdrawal_available_at=None,
                outstanding=0,
            )
        )


def _add_balance(conn: Connection, payer: Address, token: Address, delta: int) -> None:
    balance = conn.execute(
        select(accounts.c.balance).where(accounts.c.payer == payer, accounts.c.token == token)
    ).scalar_one()
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == payer, accounts.c.token == token)
        .values(balance=balance + delta)
    )


def _set_withdrawal(
    conn: Connection, payer: Address, token: Address, amount: int, available_at: int | None
) -> None:
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == payer, accounts.c.token == token)
        .values(withdrawal_amount=amount, withdrawal_available_at=available_at)
    )


def _register_key(conn: Connection, event: ev.SignerRegistered) -> None:
    values = {
        "token": event.token,
        "allowance": event.allowance,
        "valid_until": min(event.valid_until, UINT40_MAX),  # as the contract stores it
        "revoke_at": None,
        "nonce": event.nonce,
    }
    where = (session_keys.c.payer == event.payer, session_keys.c.signer == event.signer)
    if conn.execute(select(session_keys.c.payer).where(*where)).first():
        conn.execute(update(session_keys).where(*where).values(**values))
    else:
        conn.execute(
            session_keys.insert().values(payer=event.payer, signer=event.signer, outstanding=0, **values)
        )


def _ensure_earnings(conn: Connection, payee: Address, token: Address) -> None:
    if not conn.execute(
        select(earnings.c.payee).where(earnings.c.payee == payee, earnings.c.token == token)
    ).first():
        conn.execute(earnings.insert().values(payee=payee, token=token, withdrawable=0, withdrawn=0))


def _apply_claim(conn: Connection, event: ev.Claimed) -> None:
    channel = channel_id(event.payer, event.payee, event.token)
    row = conn.execute(select(channels).where(channels.c.channel_id == channel)).first()
    if row is None:  # a voucher the payer signed outside this server
        conn.execute(
            channels.insert().values(
                channel_id=channel,
                payer=event.payer,
                payee=event.payee,
                token=event.token,
                accepted=0,
                claimed=event.claimed,
                latest_receipt=None,
                updated_at=event.at.timestamp,
            )
        )
        accepted, old_claimed = 0, 0
    else:
        accepted, old_claimed = row.accepted, row.claimed
        conn.execute(update(channels).where(channels.c.channel_id == channel).values(claimed=event.claimed))
    # The channel's part of the payer's outstanding total: max(accepted - claimed, 0).
    released = max(accepted - old_claimed, 0) - max(accepted - event.claimed, 0)
    _ensure_account(conn, event.payer, event.token)
    account = conn.execute(
        select(accounts).where(accounts.c.payer == event.payer, accounts.c.token == event.token)
    ).one()
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == event.payer, accounts.c.token == event.token)
        .values(balance=account.balance - event.amount, outstanding=max(account.outstanding - released, 0))
    )
    if event.signer != event.payer:
        key = conn.execute(
            select(session_keys).where(
                session_keys.c.payer == event.payer, session_keys.c.signer == event.signer
            )
        ).first()
        if key is not None:
            conn.execute(
                update(session_keys)
                .where(session_keys.c.payer == event.payer, session_keys.c.signer == event.signer)
                .values(
                    allowance=max(key.allowance - event.amount, 0),
                    outstanding=max(key.outstanding - event.amount, 0),
                )
            )
    _ensure_earnings(conn, event.payee, event.token)
    current = conn.execute(
        select(earnings.c.withdrawable).where(
            earnings.c.payee == event.payee, earnings.c.token == event.token
        )
    ).scalar_one()
    conn.execute(
        update(earnings)
        .where(earnings.c.payee == event.payee, earnings.c.token == event.token)
        .values(withdrawable=current + event.amount - event.fee)
    )
    conn.execute(
        update(receipts)
        .where(
            receipts.c.channel_id == channel,
            receipts.c.status == ReceiptStatus.ACCEPTED.value,
        )
        .where(receipts.c.seq.in_(_covered_receipts(conn, channel, event.claimed)))
        .values(status=ReceiptStatus.CLAIMED.value, claim_tx=event.at.tx_hash, failure=None)
    )


def _covered_receipts(conn: Connection, channel: bytes, claimed: int) -> list[int]:
    """Receipts of the channel whose cumulative amount the claim now covers (compared in Python:
    amounts are strings on SQLite)."""
    rows = conn.execute(
        select(receipts.c.seq, receipts.c.cumulative_amount).where(
            receipts.c.channel_id == channel, receipts.c.status == ReceiptStatus.ACCEPTED.value
        )
    )
    return [row.seq for row in rows if row.cumulative_amount <= claimed]


def _apply_skip(conn: Connection, event: ev.ClaimSkipped) -> None:
    if event.reason == ev.SkipReason.NOTHING_DUE:
        return
    status = ReceiptStatus.FAILED if event.reason in FINAL_SKIPS else ReceiptStatus.ACCEPTED
    conn.execute(
        update(receipts)
        .where(
            receipts.c.channel_id == channel_id(event.payer, event.payee, event.token),
            receipts.c.cumulative_amount == event.cumulative_amount,
            receipts.c.status == ReceiptStatus.ACCEPTED.value,
        )
        .values(status=status.value, failure=event.reason.name)
    )

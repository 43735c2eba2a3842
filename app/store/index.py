"""Applying the hub's events to the store. Called by the indexer, in block order, inside the
transaction that also moves the indexer's cursor, so each event is applied exactly once.

A lane's claim (VoucherClaimed) names the hash of the vector it paid; the lane's receipt with that
hash says which voucher it was, and everything up to it on the lane is claimed. A skip
(VoucherSkipped) blocks the lane at its current seq until something it depends on changes: a new
voucher on the lane, a claim of it, or (for INSUFFICIENT_BALANCE) a deposit. PREVIOUS_MISMATCH is
the exception: the claim that caused it is already applied when the skip is (see _apply_skip).
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, insert, select, update

from app.core import events as ev
from app.core import ledger
from app.core.receipts import ReceiptStatus
from app.core.types import Address
from app.store.payments import vector_at
from app.store.tables import (
    accounts,
    authorized_signers,
    earnings,
    lane_entries,
    lanes,
    provisional_withdrawals,
    receipts,
    revocations,
    tokens,
)

log = logging.getLogger(__name__)


def apply(conn: Connection, event: ev.HubEvent) -> None:
    """Applies one event. Every branch is a small, explicit state change."""
    match event:
        case ev.Deposited():
            _ensure_account(conn, event.payer, event.token)
            _add_balance(conn, event.payer, event.token, event.amount)
            _unblock(conn, event.payer, event.token, ledger.SkipReason.INSUFFICIENT_BALANCE)
        case ev.WithdrawalRequested():
            _ensure_account(conn, event.payer, event.token)
            _set_withdrawal(conn, event.payer, event.token, event.amount, event.available_at)
        case ev.WithdrawalCancelled():
            _set_withdrawal(conn, event.payer, event.token, 0, None)
        case ev.Withdrawn():
            _add_balance(conn, event.payer, event.token, -event.amount)
            _set_withdrawal(conn, event.payer, event.token, 0, None)
        case ev.SignerAuthorized():
            _authorize(conn, event)
        case ev.SignerRevoked():
            _revoke(conn, event)
        case ev.VoucherClaimed():
            _apply_claim(conn, event)
        case ev.VoucherSkipped():
            _apply_skip(conn, event)
        case ev.Earned():
            _ensure_earnings(conn, event.payee, event.token)
            _add_earnings(conn, event.payee, event.token, withdrawable=event.amount)
        case ev.EarningsWithdrawn():
            _ensure_earnings(conn, event.payee, event.token)
            _add_earnings(conn, event.payee, event.token, withdrawable=-event.amount, withdrawn=event.amount)
            conn.execute(
                update(receipts)
                .where(
                    receipts.c.payee == event.payee,
                    receipts.c.token == event.token,
                    receipts.c.status == ReceiptStatus.CLAIMED.value,
                )
                .values(status=ReceiptStatus.PAID_OUT.value)
            )
        case ev.TokenAllowed() | ev.FeeSet() | ev.DepositFailed() | ev.OperatorSet():
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


# ---------------------------------------------------------------- accounts and earnings


def _ensure_account(conn: Connection, payer: Address, token: Address) -> None:
    exists = conn.execute(
        select(accounts.c.payer).where(accounts.c.payer == payer, accounts.c.token == token)
    ).first()
    if not exists:
        conn.execute(
            accounts.insert().values(
                payer=payer, token=token, balance=0, withdrawal_amount=0, withdrawal_available_at=None,
                outstanding=0,
            )
        )  # fmt: skip


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


def _ensure_earnings(conn: Connection, payee: Address, token: Address) -> None:
    if not conn.execute(
        select(earnings.c.payee).where(earnings.c.payee == payee, earnings.c.token == token)
    ).first():
        conn.execute(earnings.insert().values(payee=payee, token=token, withdrawable=0, withdrawn=0))


def _add_earnings(
    conn: Connection, payee: Address, token: Address, withdrawable: int, withdrawn: int = 0
) -> None:
    row = conn.execute(select(earnings).where(earnings.c.payee == payee, earnings.c.token == token)).one()
    conn.execute(
        update(earnings)
        .where(earnings.c.payee == payee, earnings.c.token == token)
        .values(withdrawable=max(row.withdrawable + withdrawable, 0), withdrawn=row.withdrawn + withdrawn)
    )


def _revoke(conn: Connection, event: ev.SignerRevoked) -> None:
    where = and_(revocations.c.payer == event.payer, revocations.c.signer == event.signer)
    if conn.execute(select(revocations.c.payer).where(where)).first():
        conn.execute(update(revocations).where(where).values(effective_at=event.effective_at))
    else:
        conn.execute(
            revocations.insert().values(
                payer=event.payer, signer=event.signer, effective_at=event.effective_at
            )
        )


# ---------------------------------------------------------------- lanes


def _lane_where(payer: Address, token: Address, lane: int) -> ColumnElement[bool]:
    return and_(lanes.c.payer == payer, lanes.c.token == token, lanes.c.lane == lane)


def _apply_claim(conn: Connection, event: ev.VoucherClaimed) -> None:
    _ensure_account(conn, event.payer, event.token)
    _add_balance(conn, event.payer, event.token, -event.amount)
    lane = conn.execute(select(lanes).where(_lane_where(event.payer, event.token, event.lane))).first()
    receipt = conn.execute(
        select(receipts.c.lane_seq).where(
            receipts.c.payer == event.payer, receipts.c.token == event.token, receipts.c.lane == event.lane,
            receipts.c.entries_hash == event.entries_hash,
        )
    ).first()  # fmt: skip
    if lane is None or receipt is None:
        # A vector this server never accepted was claimed on one of its lanes (or a lane it does not
        # know): the payer signed elsewhere, or the store lost receipts. Its claims will now be
        # skipped (PreviousMismatch) until someone looks.
        log.error(
            "a claim of payer %s, token %s, lane %d paid %d for vector 0x%s, which no receipt here "
            "signed: the lane's claimed vector in the store is now behind the chain's",
            event.payer, event.token, event.lane, event.amount, event.entries_hash.hex(),
        )  # fmt: skip
        return
    seq = int(receipt.lane_seq)
    vector = vector_at(conn, event.payer, event.token, event.lane, seq)
    conn.execute(
        update(lane_entries)
        .where(
            lane_entries.c.payer == event.payer, lane_entries.c.token == event.token,
            lane_entries.c.lane == event.lane, lane_entries.c.payee == bindparam("b_payee"),
        )
        .values(claimed=bindparam("b_claimed")),
        [{"b_payee": entry.payee, "b_claimed": entry.cumulative_amount} for entry in vector],
    )  # fmt: skip
    if lane.claimed_total + event.amount != ledger.total(vector):
        log.error(
            "lane %s/%s/%d: the chain paid %d, but the store had %d claimed of the vector's %d",
            event.payer, event.token, event.lane, event.amount, lane.claimed_total, ledger.total(vector),
        )  # fmt: skip
    oldest = conn.execute(
        select(func.min(receipts.c.created_at)).where(
            receipts.c.payer == event.payer, receipts.c.token == event.token, receipts.c.lane == event.lane,
            receipts.c.lane_seq > seq,
        )
    ).scalar()  # fmt: skip
    conn.execute(
        update(lanes)
        .where(_lane_where(event.payer, event.token, event.lane))
        .values(
            claimed_total=lane.claimed_total + event.amount,
            claimed_seq=max(seq, lane.claimed_seq),
            blocked=None,
            blocked_seq=None,
            oldest_unclaimed_at=oldest,
            updated_at=event.at.timestamp,
        )
    )
    outstanding = conn.execute(
        select(accounts.c.outstanding).where(accounts.c.payer == event.payer, accounts.c.token == event.token)
    ).scalar_one()
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == event.payer, accounts.c.token == event.token)
        .values(outstanding=max(outstanding - event.amount, 0))
    )
    conn.execute(
        update(receipts)
        .where(
            receipts.c.payer == event.payer, receipts.c.token == event.token, receipts.c.lane == event.lane,
            receipts.c.lane_seq <= seq, receipts.c.status == ReceiptStatus.ACCEPTED.value,
        )
        .values(status=ReceiptStatus.CLAIMED.value, claim_tx=event.at.tx_hash, failure=None)
    )  # fmt: skip


def _apply_skip(conn: Connection, event: ev.VoucherSkipped) -> None:
    where = _lane_where(event.payer, event.token, event.lane)
    lane = conn.execute(select(lanes.c.seq).where(where)).first()
    if lane is None:
        return  # a lane this server never accepted on
    log.warning(
        "the hub skipped a claim of payer %s, token %s, lane %d: %s",
        event.payer, event.token, event.lane, event.reason.name,
    )  # fmt: skip
    if event.reason is ledger.SkipReason.PREVIOUS_MISMATCH:
        # Events apply in chain order: whatever claim moved the lane's commitment before this block
        # has been applied already, so the store's claimed vector is the chain's again (or that claim
        # was logged as unknown). Blocking would leave the lane waiting for a change already seen; the
        # settler checks the commitment before each claim and blocks the lane then if it still differs.
        return
    conn.execute(update(lanes).where(where).values(blocked=event.reason.name, blocked_seq=lane.seq))
    if event.reason in ledger.FINAL_SKIPS:
        # The chain will never pay this lane: its unclaimed part goes back to the payer's headroom
        # (the money never left its balance), the lane takes no more vouchers, its receipts fail.
        row = conn.execute(select(lanes.c.accepted_total, lanes.c.claimed_total).where(where)).one()
        unpaid = max(row.accepted_total - row.claimed_total, 0)
        conn.execute(update(lanes).where(where).values(accepted_total=row.claimed_total))
        account = accounts.c.payer == event.payer, accounts.c.token == event.token
        outstanding = conn.execute(select(accounts.c.outstanding).where(*account)).scalar()
        if outstanding is not None:
            conn.execute(update(accounts).where(*account).values(outstanding=max(outstanding - unpaid, 0)))
        conn.execute(
            update(receipts)
            .where(
                receipts.c.payer == event.payer, receipts.c.token == event.token,
                receipts.c.lane == event.lane, receipts.c.status == ReceiptStatus.ACCEPTED.value,
            )
            .values(status=ReceiptStatus.FAILED.value, failure=event.reason.name)
        )  # fmt: skip


def _authorize(conn: Connection, event: ev.SignerAuthorized) -> None:
    key = authorized_signers.c.payer == event.payer, authorized_signers.c.signer == event.signer
    if conn.execute(select(authorized_signers.c.payer).where(*key)).first() is None:
        conn.execute(
            insert(authorized_signers).values(
                payer=event.payer, signer=event.signer, authorized_at=event.at.timestamp
            )
        )


def _unblock(conn: Connection, payer: Address, token: Address, reason: ledger.SkipReason) -> None:
    conn.execute(
        update(lanes)
        .where(lanes.c.payer == payer, lanes.c.token == token, lanes.c.blocked == reason.name)
        .values(blocked=None, blocked_seq=None)
    )

"""What accepting a voucher reads and writes: accounts, channels, receipts, session keys.

Functions take the open connection of the caller's transaction; `lock_account`
must come first in any transaction that spends a payer's money.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from app.core import rules
from app.core.eip712 import Voucher
from app.core.receipts import Receipt, ReceiptStatus
from app.core.types import Address
from app.store.tables import accounts, channels, provisional_withdrawals, receipts, session_keys


def lock_account(conn: Connection, payer: Address, token: Address) -> rules.Account | None:
    """The payer's account, locked until the transaction ends (None if no deposit was ever seen)."""
    query = select(accounts).where(accounts.c.payer == payer, accounts.c.token == token)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _account(conn, row)


def get_account(conn: Connection, payer: Address, token: Address) -> rules.Account | None:
    row = conn.execute(select(accounts).where(accounts.c.payer == payer, accounts.c.token == token)).first()
    return None if row is None else _account(conn, row)


def _account(conn: Connection, row: Row[Any]) -> rules.Account:
    # A withdrawal request not yet confirmed already counts: it can only shrink the headroom.
    provisional = conn.execute(
        select(provisional_withdrawals.c.amount).where(
            provisional_withdrawals.c.payer == row.payer, provisional_withdrawals.c.token == row.token
        )
    ).scalar()
    return rules.Account(
        balance=row.balance,
        pending_withdrawal=max(row.withdrawal_amount, provisional or 0),
        outstanding=row.outstanding,
    )


def withdrawal_available_at(conn: Connection, payer: Address, token: Address) -> int | None:
    return conn.execute(
        select(accounts.c.withdrawal_available_at).where(accounts.c.payer == payer, accounts.c.token == token)
    ).scalar()


def get_channel(conn: Connection, channel_id: bytes) -> rules.Channel | None:
    row = conn.execute(select(channels).where(channels.c.channel_id == channel_id)).first()
    if row is None:
        return None
    latest = None
    if row.latest_receipt is not None:
        receipt = conn.execute(select(receipts).where(receipts.c.seq == row.latest_receipt)).one()
        latest = rules.SignedVoucher(voucher=_voucher(receipt), signature=receipt.signature)
    return rules.Channel(accepted=row.accepted, claimed=row.claimed, latest=latest)


def get_session_key(conn: Connection, payer: Address, signer: Address) -> rules.SessionKey | None:
    row = conn.execute(
        select(session_keys).where(session_keys.c.payer == payer, session_keys.c.signer == signer)
    ).first()
    return None if row is None else _session_key(row)


def list_session_keys(conn: Connection, payer: Address) -> list[rules.SessionKey]:
    rows = conn.execute(
        select(session_keys).where(session_keys.c.payer == payer).order_by(session_keys.c.signer)
    )
    return [_session_key(row) for row in rows]


def _session_key(row: Row[Any]) -> rules.SessionKey:
    return rules.SessionKey(
        signer=row.signer,
        token=row.token,
        allowance=row.allowance,
        outstanding=row.outstanding,
        valid_until=row.valid_until,
        revoke_at=row.revoke_at,
    )


def find_receipt(conn: Connection, channel_id: bytes, cumulative_amount: int) -> Receipt | None:
    row = conn.execute(
        select(receipts).where(
            receipts.c.channel_id == channel_id, receipts.c.cumulative_amount == cumulative_amount
        )
    ).first()
    return None if row is None else _receipt(row)


def get_receipt(conn: Connection, receipt_id: str) -> Receipt | None:
    row = conn.execute(select(receipts).where(receipts.c.id == receipt_id)).first()
    return None if row is None else _receipt(row)


def record_acceptance(
    conn: Connection,
    receipt: Receipt,
    channel: rules.Channel | None,
    account: rules.Account,
    session_key: rules.SessionKey | None,
) -> None:
    """Writes an accepted voucher: the receipt, the channel's new accepted amount, and the
    outstanding totals of the account and the session key. `channel`, `account` and
    `session_key` are the states `check_*` approved, read under the account lock."""
    voucher = receipt.voucher
    channel_id = receipt.channel_id
    if channel is None:
        conn.execute(
            insert(channels).values(
                channel_id=channel_id,
                payer=voucher.payer,
                payee=voucher.payee,
                token=voucher.token,
                accepted=0,
                claimed=0,
                latest_receipt=None,
                updated_at=receipt.created_at,
            )
        )
        channel = rules.Channel(accepted=0, claimed=0, latest=None)
    seq = conn.execute(
        insert(receipts)
        .values(
            id=receipt.id,
            channel_id=channel_id,
            payer=voucher.payer,
            payee=voucher.payee,
            token=voucher.token,
            cumulative_amount=voucher.cumulative_amount,
            price=receipt.price,
            purchase=voucher.purchase,
            resource_id=receipt.resource_id,
            signer=receipt.signer,
            signature=receipt.signature,
            status=receipt.status.value,
            created_at=receipt.created_at,
        )
        .returning(receipts.c.seq)
    ).scalar_one()
    # The channel's unclaimed part grows from max(accepted - claimed, 0) to cumulative - claimed.
    grown = voucher.cumulative_amount - max(channel.accepted, channel.claimed)
    conn.execute(
        update(channels)
        .where(channels.c.channel_id == channel_id)
        .values(accepted=voucher.cumulative_amount, latest_receipt=seq, updated_at=receipt.created_at)
    )
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == voucher.payer, accounts.c.token == voucher.token)
        .values(outstanding=account.outstanding + grown)
    )
    if session_key is not None:
        conn.execute(
            update(session_keys)
            .where(session_keys.c.payer == voucher.payer, session_keys.c.signer == session_key.signer)
            .values(outstanding=session_key.outstanding + receipt.price)
        )


def list_receipts(
    conn: Connection,
    *,
    payer: Address | None = None,
    payee: Address | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[tuple[int, Receipt]]:
    """Receipts newest first, keyed by their sequence number (the pagination cursor)."""
    conditions = []
    if payer is not None:
        conditions.append(receipts.c.payer == payer)
    if payee is not None:
        conditions.append(receipts.c.payee == payee)
    if after is not None:
        conditions.append(receipts.c.seq < after)
    query = select(receipts).where(and_(*conditions)).order_by(receipts.c.seq.desc()).limit(limit)
    return [(row.seq, _receipt(row)) for row in conn.execute(query)]


def list_channels(
    conn: Connection, *, payer: Address | None = None, payee: Address | None = None
) -> Sequence[Row[Any]]:
    conditions = []
    if payer is not None:
        conditions.append(channels.c.payer == payer)
    if payee is not None:
        conditions.append(channels.c.payee == payee)
    return conn.execute(
        select(channels).where(and_(*conditions)).order_by(channels.c.updated_at.desc())
    ).all()


def count_receipts(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(receipts)).scalar_one())


def _voucher(row: Row[Any]) -> Voucher:
    return Voucher(
        payer=row.payer,
        payee=row.payee,
        token=row.token,
        cumulative_amount=row.cumulative_amount,
        purchase=row.purchase,
    )


def _receipt(row: Row[Any]) -> Receipt:
    return Receipt(
        id=row.id,
        voucher=_voucher(row),
        signature=row.signature,
        signer=row.signer,
        price=row.price,
        resource_id=row.resource_id,
        status=ReceiptStatus(row.status),
        created_at=row.created_at,
        claim_tx=row.claim_tx,
        failure=row.failure,
    )

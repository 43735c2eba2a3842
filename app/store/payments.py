"""What accepting a voucher reads and writes: accounts, channels, receipts, session keys.

Functions take the open connection of the caller's transaction. A transaction that spends a
payer's money starts with `lock_group`, which locks the payers' account rows, and ends with
`write_group`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update

from app.core import rules
from app.core.eip712 import Voucher
from app.core.receipts import Receipt, ReceiptStatus
from app.core.types import Address
from app.store.tables import accounts, channels, provisional_withdrawals, receipts, session_keys

_T = TypeVar("_T")


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
        receipt = conn.execute(select(receipts).where(receipts.c.id == row.latest_receipt)).one()
        latest = rules.SignedVoucher(voucher=_voucher(receipt), signature=receipt.signature)
    return rules.Channel(accepted=row.accepted, claimed=row.claimed, latest=latest)


def get_session_key(conn: Connection, payer: Address, signer: Address) -> rules.SessionKey | None:
    row = conn.execute(
        select(session_keys).where(session_keys.c.payer == payer, session_keys.c.signer == signer)
    ).first()
    return None if row is None else _session_key(row)


def known_session_keys(conn: Connection, payers: set[Address]) -> set[tuple[Address, Address]]:
    """(payer, signer) of every session key the index knows for `payers`."""
    found: set[tuple[Address, Address]] = set()
    for chunk in _chunks(sorted(payers)):
        query = select(session_keys.c.payer, session_keys.c.signer).where(session_keys.c.payer.in_(chunk))
        found.update((row.payer, row.signer) for row in conn.execute(query))
    return found


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


def get_receipt(conn: Connection, receipt_id: str) -> Receipt | None:
    row = conn.execute(select(receipts).where(receipts.c.id == receipt_id)).first()
    return None if row is None else _receipt(row)


@dataclass
class ChannelState:
    """A channel as a group of acceptances sees and changes it."""

    payer: Address
    payee: Address
    token: Address
    accepted: int
    claimed: int
    latest_receipt: str | None
    exists: bool  # False: the first voucher of this channel is in this group


@dataclass
class Group:
    """Everything a group of vouchers needs, read in a handful of queries, with the payers'
    accounts locked; then changed in memory and written back in a handful more."""

    accounts: dict[tuple[Address, Address], rules.Account]
    channels: dict[bytes, ChannelState]
    receipts: dict[tuple[bytes, int], Receipt]  # existing, by (channel, cumulative amount)
    session_keys: dict[tuple[Address, Address], rules.SessionKey]
    new_receipts: list[Receipt] = field(default_factory=list)
    touched_accounts: set[tuple[Address, Address]] = field(default_factory=set)
    touched_keys: set[tuple[Address, Address]] = field(default_factory=set)


def lock_group(
    conn: Connection,
    accounts_wanted: set[tuple[Address, Address]],
    channels_wanted: set[tuple[bytes, Address, Address, Address]],
    receipts_wanted: set[tuple[bytes, int]],
    keys_wanted: set[tuple[Address, Address]],
) -> Group:
    """Reads a group's state. The accounts are locked in (payer, token) order, so that two
    groups never wait on each other in a cycle (PostgreSQL; SQLite holds its one writer lock)."""
    found_accounts: dict[tuple[Address, Address], rules.Account] = {}
    for account_chunk in _chunks(sorted(accounts_wanted)):
        query = (
            select(accounts)
            .where(*_pairs_in(accounts.c.payer, accounts.c.token, account_chunk))
            .order_by(accounts.c.payer, accounts.c.token)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        for row in conn.execute(query):
            found_accounts[(row.payer, row.token)] = rules.Account(
                row.balance, row.withdrawal_amount, row.outstanding
            )
        provisional = select(provisional_withdrawals).where(
            *_pairs_in(provisional_withdrawals.c.payer, provisional_withdrawals.c.token, account_chunk)
        )
        for row in conn.execute(provisional):
            account = found_accounts.get((row.payer, row.token))
            if account is not None and row.amount > account.pending_withdrawal:
                found_accounts[(row.payer, row.token)] = replace(account, pending_withdrawal=row.amount)
    found_channels = {
        channel: ChannelState(payer, payee, token, 0, 0, None, exists=False)
        for channel, payer, payee, token in channels_wanted
    }
    for channel_chunk in _chunks(sorted(found_channels)):
        for row in conn.execute(select(channels).where(channels.c.channel_id.in_(channel_chunk))):
            state = found_channels[row.channel_id]
            state.accepted, state.claimed, state.latest_receipt = (
                row.accepted,
                row.claimed,
                row.latest_receipt,
            )
            state.exists = True
    found_receipts: dict[tuple[bytes, int], Receipt] = {}
    for receipt_chunk in _chunks(sorted(receipts_wanted)):
        wanted_pairs = set(receipt_chunk)
        query = select(receipts).where(
            *_pairs_in(receipts.c.channel_id, receipts.c.cumulative_amount, receipt_chunk)
        )
        for row in conn.execute(query):
            if (row.channel_id, row.cumulative_amount) in wanted_pairs:
                found_receipts[(row.channel_id, row.cumulative_amount)] = _receipt(row)
    found_keys: dict[tuple[Address, Address], rules.SessionKey] = {}
    for key_chunk in _chunks(sorted(keys_wanted)):
        query = select(session_keys).where(*_pairs_in(session_keys.c.payer, session_keys.c.signer, key_chunk))
        for row in conn.execute(query):
            if (row.payer, row.signer) in set(key_chunk):
                found_keys[(row.payer, row.signer)] = _session_key(row)
    return Group(found_accounts, found_channels, found_receipts, found_keys)


def latest_voucher(conn: Connection, group: Group, channel: bytes) -> rules.SignedVoucher | None:
    """The channel's latest accepted voucher, from this group or the store."""
    latest_id = group.channels[channel].latest_receipt
    if latest_id is None:
        return None
    for receipt in reversed(group.new_receipts):
        if receipt.id == latest_id:
            return rules.SignedVoucher(receipt.voucher, receipt.signature)
    stored = get_receipt(conn, latest_id)
    return None if stored is None else rules.SignedVoucher(stored.voucher, stored.signature)


def write_group(conn: Connection, group: Group, now: int) -> None:
    """Writes what the group accepted: new receipts and channels, then the changed totals."""
    if not group.new_receipts:
        return
    new_channels = {r.channel_id for r in group.new_receipts if not group.channels[r.channel_id].exists}
    if new_channels:
        conn.execute(
            insert(channels),
            [
                {"channel_id": c, "payer": s.payer, "payee": s.payee, "token": s.token,
                 "accepted": s.accepted, "claimed": s.claimed, "latest_receipt": s.latest_receipt,
                 "updated_at": now}
                for c in new_channels
                for s in [group.channels[c]]
            ],
        )  # fmt: skip
    conn.execute(
        insert(receipts),
        [
            {"id": r.id, "channel_id": r.channel_id, "payer": r.voucher.payer, "payee": r.voucher.payee,
             "token": r.voucher.token, "cumulative_amount": r.voucher.cumulative_amount, "price": r.price,
             "purchase": r.voucher.purchase, "resource_id": r.resource_id, "signer": r.signer,
             "signature": r.signature, "status": r.status.value, "created_at": r.created_at}
            for r in group.new_receipts
        ],
    )  # fmt: skip
    changed = {r.channel_id for r in group.new_receipts} - new_channels
    if changed:
        conn.execute(
            update(channels)
            .where(channels.c.channel_id == bindparam("b_channel"))
            .values(accepted=bindparam("b_accepted"), latest_receipt=bindparam("b_latest"), updated_at=now),
            [{"b_channel": c, "b_accepted": state.accepted, "b_latest": state.latest_receipt}
             for c in changed for state in [group.channels[c]]],
        )  # fmt: skip
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == bindparam("b_payer"), accounts.c.token == bindparam("b_token"))
        .values(outstanding=bindparam("b_outstanding")),
        [{"b_payer": p, "b_token": t, "b_outstanding": group.accounts[(p, t)].outstanding}
         for p, t in group.touched_accounts],
    )  # fmt: skip
    if group.touched_keys:
        conn.execute(
            update(session_keys)
            .where(
                session_keys.c.payer == bindparam("b_payer"), session_keys.c.signer == bindparam("b_signer")
            )
            .values(outstanding=bindparam("b_outstanding")),
            [{"b_payer": p, "b_signer": k, "b_outstanding": group.session_keys[(p, k)].outstanding}
             for p, k in group.touched_keys],
        )  # fmt: skip


def _pairs_in(first: Any, second: Any, pairs: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """`first IN (...) AND second IN (...)`: a superset of the pairs (the caller keeps the exact
    ones) that both databases answer from the two-column index. A row-value `(a, b) IN (...)`
    is exact, but SQLite answers it with a scan of the whole table, which grows with the store."""
    return first.in_(sorted({a for a, _ in pairs})), second.in_(sorted({b for _, b in pairs}))


def _chunks(items: list[_T], size: int = 400) -> list[list[_T]]:
    """Bound the number of parameters of one statement (SQLite allows 32,766)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


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

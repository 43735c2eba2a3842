"""What accepting a voucher reads and writes: accounts, lanes, receipts, grants.

Functions take the open connection of the caller's transaction. A transaction that spends a
payer's money starts with `lock_group`, which locks the payers' account rows, and ends with
`write_group`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update

from app.core import ledger
from app.core.eip712 import Entries, Entry, PayerVoucher, SessionGrant
from app.core.receipts import Receipt, ReceiptStatus, SignedVoucher
from app.core.types import Address
from app.store.tables import (
    accounts,
    authorized_signers,
    chain_cursor,
    grants,
    lane_entries,
    lanes,
    provisional_withdrawals,
    receipts,
    revocations,
)

_T = TypeVar("_T")
LaneKey = tuple[Address, Address, int]  # (payer, token, lane)
GrantKey = tuple[Address, Address, Address, int]  # (payer, signer, token, lane)


def get_account(conn: Connection, payer: Address, token: Address) -> ledger.Account | None:
    row = conn.execute(select(accounts).where(accounts.c.payer == payer, accounts.c.token == token)).first()
    if row is None:
        return None
    # A withdrawal request not yet confirmed already counts: it can only shrink the headroom.
    provisional = conn.execute(
        select(provisional_withdrawals.c.amount).where(
            provisional_withdrawals.c.payer == payer, provisional_withdrawals.c.token == token
        )
    ).scalar()
    return ledger.Account(row.balance, max(row.withdrawal_amount, provisional or 0), row.outstanding)


def withdrawal_available_at(conn: Connection, payer: Address, token: Address) -> int | None:
    return conn.execute(
        select(accounts.c.withdrawal_available_at).where(accounts.c.payer == payer, accounts.c.token == token)
    ).scalar()


def chain_time(conn: Connection) -> int | None:
    """The timestamp of the newest block the indexer has seen, or None before it saw one."""
    return conn.execute(select(func.max(chain_cursor.c.head_timestamp))).scalar()


# ---------------------------------------------------------------- signers


def authorized(conn: Connection, payers: Iterable[Address]) -> dict[Address, set[Address]]:
    """The keys each payer authorised on chain to sign as itself, less any it revoked (the server
    stops a revoked signer at once; the chain honours it until the revocation takes effect)."""
    found: dict[Address, set[Address]] = {}
    for chunk in _chunks(sorted(set(payers))):
        query = (
            select(authorized_signers.c.payer, authorized_signers.c.signer)
            .outerjoin(
                revocations,
                and_(
                    revocations.c.payer == authorized_signers.c.payer,
                    revocations.c.signer == authorized_signers.c.signer,
                ),
            )
            .where(_in(authorized_signers.c.payer, chunk), revocations.c.effective_at.is_(None))
        )
        for row in conn.execute(query):
            found.setdefault(row.payer, set()).add(row.signer)
    return found


def speaks_for(conn: Connection, payer: Address, signer: Address | None) -> bool:
    """True when `signer` is the payer itself or a key it authorised on chain (and did not revoke)."""
    return signer is not None and (signer == payer or signer in authorized(conn, [payer]).get(payer, set()))


# ---------------------------------------------------------------- grants


def save_grant(conn: Connection, grant: SessionGrant, signature: bytes, now: int) -> None:
    """Saves a new grant; a grant once saved never changes (see SessionKeys.authorize)."""
    conn.execute(
        insert(grants).values(
            payer=grant.payer, signer=grant.signer, token=grant.token, lane=grant.lane,
            max_total=grant.max_total, valid_until=grant.valid_until, signature=signature, created_at=now,
        )
    )  # fmt: skip


def find_grants(conn: Connection, wanted: Iterable[GrantKey]) -> dict[GrantKey, ledger.Grant]:
    wanted = set(wanted)
    found: dict[GrantKey, ledger.Grant] = {}
    for chunk in _chunks(sorted(wanted)):
        query = (
            select(grants, revocations.c.effective_at)
            .outerjoin(
                revocations,
                and_(revocations.c.payer == grants.c.payer, revocations.c.signer == grants.c.signer),
            )
            .where(*_pairs_in(grants.c.payer, grants.c.signer, [(p, s) for p, s, _, _ in chunk]))
        )
        for row in conn.execute(query):
            key = (row.payer, row.signer, row.token, row.lane)
            if key in wanted:
                found[key] = _grant(row)
    return found


def list_grants(conn: Connection, payer: Address) -> list[ledger.Grant]:
    query = (
        select(grants, revocations.c.effective_at)
        .outerjoin(
            revocations, and_(revocations.c.payer == grants.c.payer, revocations.c.signer == grants.c.signer)
        )
        .where(grants.c.payer == payer)
        .order_by(grants.c.created_at.desc())
    )
    return [_grant(row) for row in conn.execute(query)]


def _grant(row: Row[Any]) -> ledger.Grant:
    grant = SessionGrant(row.payer, row.signer, row.token, row.lane, row.max_total, row.valid_until)
    return ledger.Grant(grant, row.signature, row.effective_at)


def next_free_lane(conn: Connection, payer: Address, token: Address) -> int:
    """A lane number no voucher or grant of the payer uses yet."""
    used = [
        conn.execute(
            select(func.max(table.c.lane)).where(table.c.payer == payer, table.c.token == token)
        ).scalar()
        for table in (lanes, grants)
    ]
    return max((u for u in used if u is not None), default=-1) + 1


def wallet_lane(
    conn: Connection, payer: Address, token: Address, payee: Address, signer: Address | None = None
) -> int:
    """The lane the payer's wallet (or a key it authorised on chain) signs on: its newest such lane,
    unless that one is full and does not pay `payee` yet, or the chain can no longer pay it; then a
    fresh lane."""
    row = conn.execute(
        select(lanes.c.lane, lanes.c.blocked)
        .where(lanes.c.payer == payer, lanes.c.token == token, lanes.c.signer == (signer or payer))
        .order_by(lanes.c.lane.desc())
        .limit(1)
    ).first()
    if row is None or row.blocked in {reason.name for reason in ledger.FINAL_SKIPS}:
        return next_free_lane(conn, payer, token)
    entries = lane_vector(conn, payer, token, row.lane)
    if len(ledger.raised(entries, payee, 1)) > ledger.MAX_LANE_ENTRIES:
        return next_free_lane(conn, payer, token)
    return int(row.lane)


# ---------------------------------------------------------------- lanes and vectors


def lane_vector(
    conn: Connection, payer: Address, token: Address, lane: int, *, claimed: bool = False
) -> Entries:
    """The lane's last accepted (or claimed) vector."""
    column = lane_entries.c.claimed if claimed else lane_entries.c.accepted
    rows = conn.execute(
        select(lane_entries.c.payee, column.label("amount")).where(
            lane_entries.c.payer == payer, lane_entries.c.token == token, lane_entries.c.lane == lane
        )
    )
    return _sorted(Entry(row.payee, row.amount) for row in rows if row.amount > 0)


def vector_at(conn: Connection, payer: Address, token: Address, lane: int, lane_seq: int) -> Entries:
    """The vector the lane's voucher number `lane_seq` signed, rebuilt from its receipts: each
    payee's highest cumulative amount among the lane's receipts up to it."""
    rows = conn.execute(
        select(receipts.c.payee, func.max(receipts.c.lane_seq).label("last"))
        .where(
            receipts.c.payer == payer, receipts.c.token == token, receipts.c.lane == lane,
            receipts.c.lane_seq <= lane_seq,
        )
        .group_by(receipts.c.payee)
    ).all()  # fmt: skip
    if not rows:
        return ()
    amounts = conn.execute(
        select(receipts.c.payee, receipts.c.cumulative_amount).where(
            receipts.c.payer == payer, receipts.c.token == token, receipts.c.lane == lane,
            receipts.c.lane_seq.in_([row.last for row in rows]),
        )
    )  # fmt: skip
    return _sorted(Entry(row.payee, row.cumulative_amount) for row in amounts)


def signed_voucher(conn: Connection, receipt: Receipt) -> SignedVoucher:
    """The whole voucher a receipt signed."""
    entries = vector_at(conn, receipt.payer, receipt.token, receipt.lane, receipt.lane_seq)
    voucher = PayerVoucher(receipt.payer, receipt.token, receipt.lane, entries, receipt.purchase)
    return SignedVoucher(voucher, receipt.signature, receipt.acknowledgement, receipt.signer)


def _sorted(entries: Iterable[Entry]) -> Entries:
    return tuple(sorted(entries, key=lambda e: ledger.payee_order(e.payee)))


@dataclass
class LaneState:
    """A lane as a group of acceptances sees and changes it."""

    signer: Address
    seq: int
    accepted: Entries
    accepted_total: int
    latest: Receipt | None  # the lane's newest receipt
    exists: bool  # False: the lane's first voucher is in this group
    oldest_unclaimed_at: int | None
    blocked: str | None = None  # why the chain skipped the lane's last claim (a SkipReason name)
    changed: set[Address] = field(default_factory=set)  # payees whose amount this group raised


@dataclass
class Group:
    """Everything a group of vouchers needs, read in a handful of queries with the payers'
    accounts locked; then changed in memory and written back in a handful more."""

    accounts: dict[tuple[Address, Address], ledger.Account]
    lanes: dict[LaneKey, LaneState]
    receipts: dict[str, Receipt]  # existing, by id
    grants: dict[GrantKey, ledger.Grant]
    authorized: dict[Address, set[Address]]  # keys each payer authorised on chain to sign as itself
    new_receipts: list[Receipt] = field(default_factory=list)
    touched_accounts: set[tuple[Address, Address]] = field(default_factory=set)


def lock_group(
    conn: Connection,
    accounts_wanted: set[tuple[Address, Address]],
    lanes_wanted: set[LaneKey],
    receipt_ids: set[str],
    grants_wanted: set[GrantKey],
) -> Group:
    """Reads a group's state. The accounts are locked in (payer, token) order, so that two
    groups never wait on each other in a cycle (PostgreSQL; SQLite holds its one writer lock)."""
    found_accounts: dict[tuple[Address, Address], ledger.Account] = {}
    for chunk in _chunks(sorted(accounts_wanted)):
        query = (
            select(accounts)
            .where(*_pairs_in(accounts.c.payer, accounts.c.token, chunk))
            .order_by(accounts.c.payer, accounts.c.token)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        for row in conn.execute(query):
            found_accounts[(row.payer, row.token)] = ledger.Account(
                row.balance, row.withdrawal_amount, row.outstanding
            )
        provisional = select(provisional_withdrawals).where(
            *_pairs_in(provisional_withdrawals.c.payer, provisional_withdrawals.c.token, chunk)
        )
        for row in conn.execute(provisional):
            account = found_accounts.get((row.payer, row.token))
            if account is not None and row.amount > account.pending_withdrawal:
                found_accounts[(row.payer, row.token)] = replace(account, pending_withdrawal=row.amount)
    found_lanes: dict[LaneKey, LaneState] = {}
    lane_rows: dict[LaneKey, Row[Any]] = {}
    for lane_chunk in _chunks(sorted(lanes_wanted)):
        # One statement for the group's lanes (most pays open or extend a handful), then the
        # details of those that exist.
        query = select(lanes).where(
            *_pairs_in(lanes.c.payer, lanes.c.lane, [(p, n) for p, _, n in lane_chunk]),
            _in(lanes.c.token, sorted({t for _, t, _ in lane_chunk})),
        )
        for row in conn.execute(query):
            lane_rows[(row.payer, row.token, row.lane)] = row
    for payer, token, lane in sorted(lanes_wanted):
        lane_row = lane_rows.get((payer, token, lane))
        if lane_row is None:
            found_lanes[(payer, token, lane)] = LaneState(payer, 0, (), 0, None, False, None)
            continue
        latest = conn.execute(
            select(receipts).where(
                receipts.c.payer == payer, receipts.c.token == token, receipts.c.lane == lane,
                receipts.c.lane_seq == lane_row.seq,
            )
        ).first()  # fmt: skip
        found_lanes[(payer, token, lane)] = LaneState(
            signer=lane_row.signer,
            seq=lane_row.seq,
            accepted=lane_vector(conn, payer, token, lane),
            accepted_total=lane_row.accepted_total,
            latest=None if latest is None else _receipt(latest),
            exists=True,
            oldest_unclaimed_at=lane_row.oldest_unclaimed_at,
            blocked=lane_row.blocked,
        )
    found_receipts: dict[str, Receipt] = {}
    for id_chunk in _chunks(sorted(receipt_ids)):
        for row in conn.execute(select(receipts).where(_in(receipts.c.id, id_chunk))):
            found_receipts[row.id] = _receipt(row)
    payers = {payer for payer, _ in accounts_wanted}
    return Group(
        found_accounts,
        found_lanes,
        found_receipts,
        find_grants(conn, grants_wanted),
        authorized(conn, payers),
    )


def write_group(conn: Connection, group: Group, now: int) -> None:
    """Writes what the group accepted: receipts, lanes and their entries, the changed totals."""
    if not group.new_receipts:
        return
    conn.execute(
        insert(receipts),
        [
            {"id": r.id, "payer": r.payer, "token": r.token, "lane": r.lane, "lane_seq": r.lane_seq,
             "payee": r.payee, "price": r.price, "cumulative_amount": r.cumulative_amount,
             "purchase": r.purchase, "entries_hash": r.entries_hash, "signature": r.signature,
             "acknowledgement": r.acknowledgement, "signer": r.signer, "resource_id": r.resource_id,
             "status": r.status.value, "created_at": r.created_at}
            for r in group.new_receipts
        ],
    )  # fmt: skip
    # Lanes this group opened: their rows and entries in one statement each.
    opened = [(key, state) for key, state in group.lanes.items() if state.changed and not state.exists]
    if opened:
        conn.execute(
            insert(lanes),
            [{"payer": payer, "token": token, "lane": lane, "claimed_total": 0, "claimed_seq": 0,
              "signer": state.signer, "seq": state.seq, "accepted_total": state.accepted_total,
              "oldest_unclaimed_at": state.oldest_unclaimed_at, "updated_at": now}
             for (payer, token, lane), state in opened],
        )  # fmt: skip
        conn.execute(
            insert(lane_entries),
            [{"payer": payer, "token": token, "lane": lane, "payee": entry.payee,
              "accepted": entry.cumulative_amount, "claimed": 0}
             for (payer, token, lane), state in opened for entry in state.accepted
             if entry.payee in state.changed],
        )  # fmt: skip
    for (payer, token, lane), state in group.lanes.items():
        if not state.changed or not state.exists:
            continue
        values = {"signer": state.signer, "seq": state.seq, "accepted_total": state.accepted_total,
                  "oldest_unclaimed_at": state.oldest_unclaimed_at, "updated_at": now}  # fmt: skip
        conn.execute(
            update(lanes)
            .where(lanes.c.payer == payer, lanes.c.token == token, lanes.c.lane == lane)
            .values(**values)
        )
        existing = {
            row.payee
            for row in conn.execute(
                select(lane_entries.c.payee).where(
                    lane_entries.c.payer == payer, lane_entries.c.token == token, lane_entries.c.lane == lane
                )
            )
        }
        amounts = ledger.amounts(state.accepted)
        fresh = [p for p in state.changed if p not in existing]
        if fresh:
            conn.execute(
                insert(lane_entries),
                [{"payer": payer, "token": token, "lane": lane, "payee": p, "accepted": amounts[p],
                  "claimed": 0} for p in fresh],
            )  # fmt: skip
        raised = [p for p in state.changed if p in existing]
        if raised:
            conn.execute(
                update(lane_entries)
                .where(
                    lane_entries.c.payer == payer, lane_entries.c.token == token, lane_entries.c.lane == lane,
                    lane_entries.c.payee == bindparam("b_payee"),
                )
                .values(accepted=bindparam("b_accepted")),
                [{"b_payee": p, "b_accepted": amounts[p]} for p in raised],
            )  # fmt: skip
    conn.execute(
        update(accounts)
        .where(accounts.c.payer == bindparam("b_payer"), accounts.c.token == bindparam("b_token"))
        .values(outstanding=bindparam("b_outstanding")),
        [{"b_payer": p, "b_token": t, "b_outstanding": group.accounts[(p, t)].outstanding}
         for p, t in group.touched_accounts],
    )  # fmt: skip


# ---------------------------------------------------------------- reading receipts


def get_receipt(conn: Connection, receipt_id: str) -> Receipt | None:
    row = conn.execute(select(receipts).where(receipts.c.id == receipt_id)).first()
    return None if row is None else _receipt(row)


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


def list_lanes(conn: Connection, payer: Address) -> list[Row[Any]]:
    return list(
        conn.execute(select(lanes).where(lanes.c.payer == payer).order_by(lanes.c.token, lanes.c.lane))
    )


def count_receipts(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(receipts)).scalar_one())


def _receipt(row: Row[Any]) -> Receipt:
    return Receipt(
        id=row.id,
        payer=row.payer,
        token=row.token,
        lane=row.lane,
        lane_seq=row.lane_seq,
        payee=row.payee,
        price=row.price,
        cumulative_amount=row.cumulative_amount,
        purchase=row.purchase,
        entries_hash=row.entries_hash,
        signature=row.signature,
        acknowledgement=row.acknowledgement,
        signer=row.signer,
        resource_id=row.resource_id,
        status=ReceiptStatus(row.status),
        created_at=row.created_at,
        claim_tx=row.claim_tx,
        failure=row.failure,
    )


receipt_from_row = _receipt


def _pairs_in(first: Any, second: Any, pairs: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """`first IN (...) AND second IN (...)`: a superset of the pairs (the caller keeps the exact
    ones) that both databases answer from the two-column index. A row-value `(a, b) IN (...)`
    is exact, but SQLite answers it with a scan of the whole table, which grows with the store."""
    return _in(first, sorted({a for a, _ in pairs})), _in(second, sorted({b for _, b in pairs}))


def _in(column: Any, values: list[Any]) -> Any:
    """`column IN (...)`, or `column = value` for one value: a lone pay's statements then skip
    SQLAlchemy's per-execution expansion of the list (about a third of a small query's CPU)."""
    return column == values[0] if len(values) == 1 else column.in_(values)


def _chunks(items: list[_T], size: int = 400) -> list[list[_T]]:
    """Bound the number of parameters of one statement (SQLite allows 32,766)."""
    return [items[start : start + size] for start in range(0, len(items), size)]

"""What the settler reads: every lane with accepted vouchers not yet claimed, with the deadline
after which its latest voucher could no longer be claimed; and the claim block of each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, select, update

from app.core.claims import ClaimBlock, SignedGrant
from app.core.eip712 import PayerVoucher, SessionGrant
from app.core.types import Address
from app.store.payments import LaneKey, lane_vector, vector_at
from app.store.tables import (
    accounts,
    grants,
    lane_entries,
    lanes,
    provisional_withdrawals,
    receipts,
    revocations,
)


@dataclass(frozen=True)
class Unclaimed:
    payer: Address
    token: Address
    lane: int
    seq: int  # the lane's latest accepted voucher
    signer: Address  # the payer, or the session key of the lane's grant
    accepted_total: int
    claimed_total: int
    oldest_unclaimed_at: int  # when the oldest voucher not yet claimed was accepted (server time)
    payer_outstanding: int
    deadline: int | None  # chain time after which the voucher may become unclaimable

    @property
    def key(self) -> LaneKey:
        return (self.payer, self.token, self.lane)

    @property
    def due(self) -> int:
        return self.accepted_total - self.claimed_total


def lane_label(key: LaneKey) -> str:
    """How a lane is named in a claim transaction's payload."""
    payer, token, lane = key
    return f"{payer}/{token}/{lane}"


def unclaimed(conn: Connection) -> list[Unclaimed]:
    """Lanes with acceptances not yet claimed and not blocked at their current voucher.

    deadline = min(the payer's withdrawal becoming available, and for a key's lane its grant's
    validUntil and its revocation's effect - 1)."""
    query = (
        select(
            lanes,
            accounts.c.outstanding,
            accounts.c.withdrawal_available_at,
            provisional_withdrawals.c.available_at.label("provisional_available_at"),
            grants.c.valid_until,
            revocations.c.effective_at,
        )
        .join(accounts, and_(accounts.c.payer == lanes.c.payer, accounts.c.token == lanes.c.token))
        .outerjoin(
            provisional_withdrawals,
            and_(
                provisional_withdrawals.c.payer == lanes.c.payer,
                provisional_withdrawals.c.token == lanes.c.token,
            ),
        )
        .outerjoin(
            grants,
            and_(
                grants.c.payer == lanes.c.payer,
                grants.c.signer == lanes.c.signer,
                grants.c.token == lanes.c.token,
                grants.c.lane == lanes.c.lane,
            ),
        )
        .outerjoin(
            revocations, and_(revocations.c.payer == lanes.c.payer, revocations.c.signer == lanes.c.signer)
        )
        .where(lanes.c.seq > lanes.c.claimed_seq)
    )
    found = []
    for row in conn.execute(query):
        # Totals compared here, not in SQL: amounts are strings on SQLite.
        if row.accepted_total <= row.claimed_total:
            continue
        if row.blocked is not None and row.blocked_seq == row.seq:
            continue  # the chain would skip this voucher: wait for something it depends on
        deadlines = [row.withdrawal_available_at, row.provisional_available_at]
        if row.signer != row.payer:
            deadlines.append(row.valid_until)
            if row.effective_at is not None:
                deadlines.append(row.effective_at - 1)
        found.append(
            Unclaimed(
                payer=row.payer,
                token=row.token,
                lane=row.lane,
                seq=row.seq,
                signer=row.signer,
                accepted_total=row.accepted_total,
                claimed_total=row.claimed_total,
                oldest_unclaimed_at=row.oldest_unclaimed_at or row.updated_at,
                payer_outstanding=row.outstanding,
                deadline=min((d for d in deadlines if d is not None), default=None),
            )
        )
    return found


def claim_block(conn: Connection, key: LaneKey, seq: int, with_acknowledgement: bool = False) -> ClaimBlock:
    """The block that claims the lane's voucher `seq` from its claimed vector: the whole vector, its
    signature, the grant when a key signed, and (for anyone but the operator to send it) the
    operator's acknowledgement."""
    payer, token, lane = key
    columns = (receipts.c.purchase, receipts.c.signature, receipts.c.acknowledgement, receipts.c.signer)
    latest = conn.execute(
        select(*columns).where(
            receipts.c.payer == payer, receipts.c.token == token, receipts.c.lane == lane,
            receipts.c.lane_seq == seq,
        )
    ).one()  # fmt: skip
    voucher = PayerVoucher(payer, token, lane, vector_at(conn, payer, token, lane, seq), latest.purchase)
    grant = None
    if latest.signer != payer:
        grant = find_grant(conn, payer, latest.signer, token, lane)
    return ClaimBlock(
        voucher=voucher,
        signature=latest.signature,
        previous=lane_vector(conn, payer, token, lane, claimed=True),
        grant=grant,
        acknowledgement=latest.acknowledgement if with_acknowledgement else None,
    )


def owed_to(conn: Connection, payee: Address) -> list[tuple[LaneKey, int]]:
    """(lane, its latest accepted voucher) of every lane whose accepted vector pays `payee` more than
    its claimed one."""
    query = (
        select(
            lanes.c.payer,
            lanes.c.token,
            lanes.c.lane,
            lanes.c.seq,
            lane_entries.c.accepted,
            lane_entries.c.claimed,
        )
        .join(
            lane_entries,
            and_(
                lane_entries.c.payer == lanes.c.payer,
                lane_entries.c.token == lanes.c.token,
                lane_entries.c.lane == lanes.c.lane,
            ),
        )
        .where(lane_entries.c.payee == payee)
        .order_by(lanes.c.token, lanes.c.payer, lanes.c.lane)
    )
    return [
        ((row.payer, row.token, row.lane), row.seq)
        for row in conn.execute(query)
        if row.accepted > row.claimed
    ]


def find_grant(
    conn: Connection, payer: Address, signer: Address, token: Address, lane: int
) -> SignedGrant | None:
    row = conn.execute(
        select(grants).where(
            grants.c.payer == payer, grants.c.signer == signer, grants.c.token == token, grants.c.lane == lane
        )
    ).first()
    if row is None:
        return None
    grant = SessionGrant(row.payer, row.signer, row.token, row.lane, row.max_total, row.valid_until)
    return SignedGrant(grant, row.signature)


def block_lane(conn: Connection, key: LaneKey, reason: str, seq: int) -> None:
    """The chain would skip the lane's voucher `seq` for `reason`: leave it until something changes."""
    payer, token, lane = key
    conn.execute(
        update(lanes)
        .where(lanes.c.payer == payer, lanes.c.token == token, lanes.c.lane == lane)
        .values(blocked=reason, blocked_seq=seq)
    )

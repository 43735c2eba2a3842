"""What the settler reads: every channel whose latest accepted voucher is not yet claimed,
with the deadlines after which it could no longer be claimed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, select

from app.core.eip712 import Voucher
from app.core.receipts import ReceiptStatus
from app.core.types import Address
from app.store.tables import accounts, channels, receipts, session_keys


@dataclass(frozen=True)
class Unclaimed:
    channel_id: bytes
    voucher: Voucher  # the channel's latest accepted voucher
    signature: bytes
    signer: Address
    claimed: int
    oldest_unclaimed_at: int  # when the oldest voucher not yet claimed was accepted
    payer_outstanding: int
    deadline: int | None  # after this the voucher may become unclaimable (withdrawal, key expiry)
    failure: str | None  # the reason the last claim of it was skipped, if it was

    @property
    def due(self) -> int:
        return self.voucher.cumulative_amount - self.claimed


def unclaimed(conn: Connection) -> list[Unclaimed]:
    latest = receipts.alias("latest")
    oldest = (
        select(receipts.c.channel_id, func.min(receipts.c.created_at).label("oldest"))
        .where(receipts.c.status == ReceiptStatus.ACCEPTED.value)
        .group_by(receipts.c.channel_id)
        .subquery()
    )
    query = (
        select(
            channels.c.channel_id,
            channels.c.claimed,
            latest.c.payer,
            latest.c.payee,
            latest.c.token,
            latest.c.cumulative_amount,
            latest.c.purchase,
            latest.c.signature,
            latest.c.signer,
            latest.c.failure,
            oldest.c.oldest,
            accounts.c.outstanding,
            accounts.c.withdrawal_available_at,
            session_keys.c.valid_until,
            session_keys.c.revoke_at,
        )
        .join(latest, latest.c.id == channels.c.latest_receipt)
        .join(oldest, oldest.c.channel_id == channels.c.channel_id)
        .join(accounts, and_(accounts.c.payer == channels.c.payer, accounts.c.token == channels.c.token))
        .outerjoin(
            session_keys,
            and_(session_keys.c.payer == latest.c.payer, session_keys.c.signer == latest.c.signer),
        )
        .where(latest.c.status == ReceiptStatus.ACCEPTED.value)
    )
    found = []
    for row in conn.execute(query):
        if row.cumulative_amount <= row.claimed:
            continue
        deadlines = [row.withdrawal_available_at]
        if row.signer != row.payer:
            deadlines += [row.valid_until, row.revoke_at]
        found.append(
            Unclaimed(
                channel_id=row.channel_id,
                voucher=Voucher(row.payer, row.payee, row.token, row.cumulative_amount, row.purchase),
                signature=row.signature,
                signer=row.signer,
                claimed=row.claimed,
                oldest_unclaimed_at=row.oldest,
                payer_outstanding=row.outstanding,
                deadline=min((d for d in deadlines if d is not None), default=None),
                failure=row.failure,
            )
        )
    return found


def claim_row(candidate: Unclaimed) -> tuple[object, ...]:
    """The `Claim` struct of hub.claim for a channel's latest voucher."""
    v = candidate.voucher
    return (v.payer, v.payee, v.token, v.cumulative_amount, v.purchase, candidate.signature)

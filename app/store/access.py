"""What a payer holds of a resource: its latest receipt for it (app.core.access decides the rest)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from app.core.receipts import ReceiptStatus
from app.core.types import Address
from app.store.tables import receipts


def latest_receipt(conn: Connection, payer: Address, resource_id: str) -> tuple[str, int] | None:
    """(id, accepted at) of the payer's latest receipt for the resource that the chain has not
    refused (a FAILED receipt was never paid, so it gives nothing)."""
    row = conn.execute(
        select(receipts.c.id, receipts.c.created_at)
        .where(
            receipts.c.payer == payer,
            receipts.c.resource_id == resource_id,
            receipts.c.status != ReceiptStatus.FAILED.value,
        )
        .order_by(receipts.c.seq.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.id, row.created_at)

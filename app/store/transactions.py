"""The operator's transactions, one row per nonce."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, select, text, update

from app.core.types import Address
from app.store.tables import operator_transactions as txs


@dataclass(frozen=True)
class OperatorTx:
    sender: Address
    nonce: int
    kind: str
    to: Address
    data: bytes
    gas: int
    max_fee: int
    priority_fee: int
    raw: bytes
    hashes: tuple[bytes, ...]
    status: str
    payload: dict[str, Any]
    created_at: int
    sent_at: int
    block_number: int | None


def lock_sender(conn: Connection, sender: Address) -> None:
    """Serialises nonce assignment for `sender` across processes (PostgreSQL advisory lock held
    until the transaction ends; SQLite transactions are already serialised)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:sender))"), {"sender": sender})


def next_nonce(conn: Connection, sender: Address) -> int | None:
    highest = conn.execute(select(func.max(txs.c.nonce)).where(txs.c.sender == sender)).scalar()
    return None if highest is None else int(highest) + 1


def insert(conn: Connection, tx: OperatorTx) -> None:
    conn.execute(
        txs.insert().values(
            sender=tx.sender,
            nonce=tx.nonce,
            kind=tx.kind,
            to_address=tx.to,
            data=tx.data,
            gas=tx.gas,
            max_fee=tx.max_fee,
            priority_fee=tx.priority_fee,
            raw=tx.raw,
            hashes=json.dumps(["0x" + h.hex() for h in tx.hashes]),
            status=tx.status,
            payload=json.dumps(tx.payload),
            created_at=tx.created_at,
            sent_at=tx.sent_at,
            block_number=tx.block_number,
        )
    )


def pending(conn: Connection, sender: Address) -> list[OperatorTx]:
    rows = conn.execute(
        select(txs).where(txs.c.sender == sender, txs.c.status == "pending").order_by(txs.c.nonce)
    )
    return [_tx(row) for row in rows]


def get(conn: Connection, sender: Address, nonce: int) -> OperatorTx | None:
    row = conn.execute(select(txs).where(txs.c.sender == sender, txs.c.nonce == nonce)).first()
    return None if row is None else _tx(row)


def record_attempt(
    conn: Connection, tx: OperatorTx, raw: bytes, tx_hash: bytes, fees: tuple[int, int], now: int
) -> None:
    conn.execute(
        update(txs)
        .where(txs.c.sender == tx.sender, txs.c.nonce == tx.nonce)
        .values(
            raw=raw,
            hashes=json.dumps(["0x" + h.hex() for h in (*tx.hashes, tx_hash)]),
            max_fee=fees[0],
            priority_fee=fees[1],
            sent_at=now,
        )
    )


def mark_resent(conn: Connection, tx: OperatorTx, now: int) -> None:
    conn.execute(update(txs).where(txs.c.sender == tx.sender, txs.c.nonce == tx.nonce).values(sent_at=now))


def finish(conn: Connection, tx: OperatorTx, status: str, block_number: int | None) -> None:
    conn.execute(
        update(txs)
        .where(txs.c.sender == tx.sender, txs.c.nonce == tx.nonce)
        .values(status=status, block_number=block_number)
    )


def _tx(row: Row[Any]) -> OperatorTx:
    return OperatorTx(
        sender=row.sender,
        nonce=row.nonce,
        kind=row.kind,
        to=row.to_address,
        data=row.data,
        gas=row.gas,
        max_fee=row.max_fee,
        priority_fee=row.priority_fee,
        raw=row.raw,
        hashes=tuple(bytes.fromhex(h[2:]) for h in json.loads(row.hashes)),
        status=row.status,
        payload=json.loads(row.payload),
        created_at=row.created_at,
        sent_at=row.sent_at,
        block_number=row.block_number,
    )


def gas_since(conn: Connection, sender: Address, kind: str, since: int) -> int:
    """The gas limits of the `kind` transactions signed since `since`, sent or mined: an upper bound
    of the gas they spend (a limit is the estimate plus a margin; the gas used is not stored)."""
    spent = conn.execute(
        select(func.sum(txs.c.gas)).where(
            txs.c.sender == sender, txs.c.kind == kind, txs.c.created_at >= since
        )
    ).scalar()
    return int(spent or 0)

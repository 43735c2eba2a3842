"""Idempotency keys: the first response to a (scope, key) is stored in the same transaction as
the work it describes, and replayed for the same request; a different request is a conflict."""

from __future__ import annotations

from sqlalchemy import Connection, select

from app.store.tables import idempotency_keys


def find(conn: Connection, scope: str, key: str) -> tuple[bytes, str] | None:
    """(fingerprint, response) stored for the key, if any."""
    row = conn.execute(
        select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
    ).first()
    return None if row is None else (row.fingerprint, row.response)


def save(conn: Connection, scope: str, key: str, fingerprint: bytes, response: str, now: int) -> None:
    conn.execute(
        idempotency_keys.insert().values(
            scope=scope, key=key, fingerprint=fingerprint, response=response, created_at=now
        )
    )

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


def find_many(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[bytes, str]]:
    """(scope, key) -> (fingerprint, response) for each of `keys` that is stored."""
    if not keys:
        return {}
    wanted = set(keys)
    query = select(idempotency_keys).where(
        idempotency_keys.c.scope.in_(sorted({s for s, _ in wanted})),
        idempotency_keys.c.key.in_(sorted({k for _, k in wanted})),
    )
    return {
        (row.scope, row.key): (row.fingerprint, row.response)
        for row in conn.execute(query)
        if (row.scope, row.key) in wanted
    }


def save_many(conn: Connection, rows: list[tuple[str, str, bytes, str]], now: int) -> None:
    """Stores (scope, key, fingerprint, response) rows."""
    if rows:
        conn.execute(
            idempotency_keys.insert(),
            [
                {"scope": s, "key": k, "fingerprint": f, "response": r, "created_at": now}
                for s, k, f, r in rows
            ],
        )

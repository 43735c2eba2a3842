"""Sign-in nonces (single use, with a TTL) and sessions (stored as hashes of their tokens)."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from app.core.types import Address
from app.store.tables import sessions, siwe_nonces


def save_nonce(conn: Connection, nonce: str, expires_at: int) -> None:
    conn.execute(siwe_nonces.insert().values(nonce=nonce, expires_at=expires_at))


def use_nonce(conn: Connection, nonce: str, now: int) -> bool:
    """Consumes the nonce: True once if it was issued and has not expired, False ever after."""
    deleted = conn.execute(
        delete(siwe_nonces).where(siwe_nonces.c.nonce == nonce).returning(siwe_nonces.c.expires_at)
    ).first()
    return deleted is not None and deleted.expires_at > now


def purge_expired(conn: Connection, now: int) -> None:
    conn.execute(delete(siwe_nonces).where(siwe_nonces.c.expires_at <= now))
    conn.execute(delete(sessions).where(sessions.c.expires_at <= now))


def save_session(conn: Connection, token_hash: bytes, address: Address, expires_at: int) -> None:
    conn.execute(sessions.insert().values(token_hash=token_hash, address=address, expires_at=expires_at))


def session_address(conn: Connection, token_hash: bytes, now: int) -> Address | None:
    row = conn.execute(select(sessions).where(sessions.c.token_hash == token_hash)).first()
    if row is None or row.expires_at <= now:
        return None
    address: Address = row.address
    return address


def delete_session(conn: Connection, token_hash: bytes) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))

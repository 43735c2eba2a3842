"""Sign-In with Ethereum (EIP-4361): a single-use server nonce with a TTL, then a session token.

The session token is random and returned once; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from app.core import siwe
from app.core.errors import Unauthenticated
from app.core.types import Address
from app.services.clock import Clock
from app.store import auth
from app.store.database import Database


class Auth:
    def __init__(
        self, db: Database, clock: Clock, public_url: str, chain_id: int, nonce_ttl: int, session_ttl: int
    ) -> None:
        self._db = db
        self._clock = clock
        self._uri = public_url.rstrip("/") + "/"
        self._domain = urlparse(public_url).netloc
        self._chain_id = chain_id
        self._nonce_ttl = nonce_ttl
        self._session_ttl = session_ttl

    def challenge(self, address: str) -> str:
        """A fresh EIP-4361 message for `address` to sign, with a single-use nonce."""
        nonce = secrets.token_hex(16)
        now = self._clock()
        with self._db.transaction() as conn:
            auth.purge_expired(conn, now)
            auth.save_nonce(conn, nonce, now + self._nonce_ttl)
        message = siwe.build(
            domain=self._domain,
            uri=self._uri,
            chain_id=self._chain_id,
            nonce=nonce,
            address=address,
            now=datetime.fromtimestamp(now, UTC),
            ttl=timedelta(seconds=self._nonce_ttl),
            statement="Sign in to the micropayment hub.",
        )
        return message.to_text()

    def sign_in(self, message_text: str, signature: bytes) -> tuple[str, Address, int]:
        """Checks the signed message and consumes its nonce; returns (session token, address, expiry)."""
        message = siwe.parse(message_text)
        now = self._clock()
        address = siwe.verify(
            message,
            signature=signature,
            expected_domain=self._domain,
            expected_uri_prefix=self._uri,
            expected_chain_id=self._chain_id,
            now=datetime.fromtimestamp(now, UTC),
        )
        token = secrets.token_urlsafe(32)
        expires_at = now + self._session_ttl
        with self._db.transaction() as conn:
            if not auth.use_nonce(conn, message.nonce, now):
                raise Unauthenticated(
                    "this sign-in nonce is unknown, expired or already used: ask for a new one"
                )
            auth.save_session(conn, _hash(token), address, expires_at)
        return token, address, expires_at

    def session(self, token: str) -> Address | None:
        with self._db.read() as conn:
            return auth.session_address(conn, _hash(token), self._clock())

    def sign_out(self, token: str) -> None:
        with self._db.transaction() as conn:
            auth.delete_session(conn, _hash(token))


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()

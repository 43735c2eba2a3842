"""Session keys: a grant the payer signs once, kept by the server and carried with every claim of
the key's vouchers. No transaction: the key can pay as soon as its grant is saved. Revoking is the
payer's own transaction (hub.revokeSigner), which the indexer sees."""

from __future__ import annotations

from collections.abc import Callable

from app.core import ledger
from app.core.eip712 import Domain, SessionGrant, digest
from app.core.errors import BadSignature, InvalidInput, UnknownToken
from app.core.signatures import recover
from app.services.payments import MAX_STORED_LANE
from app.store import catalog, payments
from app.store.database import Database


class SessionKeys:
    def __init__(self, db: Database, domain: Domain, clock: Callable[[], int], settle_margin: int) -> None:
        self._db = db
        self._domain = domain
        self._clock = clock
        self._settle_margin = settle_margin

    def authorize(self, grant: SessionGrant, signature: bytes) -> ledger.Grant:
        """Saves a grant the payer signed (or a key it authorised on chain: how a smart wallet signs),
        after the checks the hub will make when the key's vouchers are claimed."""
        ledger.check_grant_shape(grant)
        if grant.lane > MAX_STORED_LANE:
            raise InvalidInput(f"lane {grant.lane} was not handed out by this server: use grantToSign")
        signer = recover(digest(self._domain, grant), signature)
        with self._db.transaction() as conn:
            if not payments.speaks_for(conn, grant.payer, signer):
                raise BadSignature(
                    "the grant is signed by neither its payer nor a key the payer authorised on chain "
                    "(65 bytes with v 27/28, or 64 bytes)"
                )
            if grant.token not in {t.address for t in catalog.list_tokens(conn)}:
                raise UnknownToken(f"the hub has not listed token {grant.token}", token=grant.token)
            now = max(payments.chain_time(conn) or 0, self._clock())
            if grant.valid_until < now + self._settle_margin:
                raise InvalidInput(
                    f"validUntil must leave at least {self._settle_margin} s to settle the key's vouchers"
                )
            owner = next(
                (row.signer for row in payments.list_lanes(conn, grant.payer)
                 if row.token == grant.token and row.lane == grant.lane),
                None,
            )  # fmt: skip
            if owner is not None and owner != grant.signer:
                raise InvalidInput(
                    f"lane {grant.lane} is already signed on by {owner}: ask grantToSign for a fresh lane"
                )
            key = (grant.payer, grant.signer, grant.token, grant.lane)
            existing = payments.find_grants(conn, [key]).get(key)
            if existing is not None:
                if existing.grant != grant:
                    # The vouchers it already signed are claimed with the grant they were accepted
                    # under: a new cap or expiry for the same key and lane would strand them.
                    raise InvalidInput(
                        "this key already has a grant on this lane, which cannot change: authorise a new key"
                    )
                return existing
            payments.save_grant(conn, grant, signature, self._clock())
            saved = payments.find_grants(conn, [key])
        return saved[key]

    def list(self, payer: str) -> list[ledger.Grant]:
        with self._db.read() as conn:
            return payments.list_grants(conn, payer)  # type: ignore[arg-type]

"""Accepting vouchers.

The signature is checked first, outside any lock (it is CPU work, and an
EIP-1271 check is a chain call). Then, in one transaction that starts by
locking the payer's account row, the rules of app.core.rules run against the
states read under that lock, and the receipt is written. The transaction
commits before the receipt is returned: an acknowledged receipt is durable.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from app.core import rules
from app.core.eip712 import Domain, Voucher, channel_id, voucher_digest
from app.core.errors import (
    BadSignature,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    Refusal,
    ResourceMismatch,
    UnknownResource,
)
from app.core.receipts import Receipt, ReceiptStatus
from app.core.signatures import recover
from app.core.types import UINT128_MAX, Address
from app.services.committer import GroupCommitter
from app.services.events import EventBus
from app.store import catalog, idempotency, payments
from app.store.database import Database, is_unique_violation

log = logging.getLogger(__name__)

Erc1271Check = Callable[[Address, bytes, bytes], bool]
"""(wallet, digest, signature) -> does the wallet accept it (EIP-1271)."""


@dataclass(frozen=True)
class PayRequest:
    voucher: Voucher
    signature: bytes
    resource_id: str


class _Refused(Exception):
    """Carries a lone job's refusal out of its transaction, so that the transaction rolls back."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclass(frozen=True)
class _Verified:
    request: PayRequest
    signer: Address  # the payer itself, or a session key of the payer
    price: int


@dataclass(frozen=True)
class _Job:
    verified: _Verified
    idempotency_key: str | None
    fingerprint: bytes


def receipt_id(channel: bytes, cumulative_amount: int) -> str:
    """A receipt's id is derived from the voucher, so a client can compute it too."""
    return "0x" + hashlib.sha256(channel + cumulative_amount.to_bytes(32, "big")).hexdigest()[:40]


class Payments:
    def __init__(
        self,
        db: Database,
        domain: Domain,
        clock: Callable[[], int],
        events: EventBus,
        settle_margin: int,
        erc1271: Erc1271Check | None = None,
    ) -> None:
        self._db = db
        self._domain = domain
        self._domain_separator = domain.separator
        self._clock = clock
        self._events = events
        self._settle_margin = settle_margin
        self._erc1271 = erc1271
        self._committer: GroupCommitter[_Job, Receipt | Refusal] = GroupCommitter(self._accept_lone_or_all)

    def _accept_lone_or_all(self, jobs: Sequence[_Job]) -> list[Receipt | Refusal]:
        try:
            return self._accept_all(jobs)
        except _Refused as refused:  # a group of one that was refused: nothing was written
            return [refused.refusal]

    def pay(self, request: PayRequest, idempotency_key: str | None = None) -> Receipt:
        """Accepts one voucher, or raises the Refusal that says why not. Returns once the receipt
        is committed (pays arriving together share that commit: see app.services.committer)."""
        job = _Job(self._verify(request), idempotency_key, _fingerprint(request))
        outcome = self._committer.submit(job)
        if isinstance(outcome, Refusal):
            raise outcome
        return outcome

    def pay_batch(self, requests: Sequence[PayRequest]) -> list[Receipt | Refusal]:
        """Accepts many vouchers in one transaction; each is accepted or refused on its own,
        and the results come back in the order of the requests."""
        results: list[Receipt | Refusal | None] = [None] * len(requests)
        jobs: list[tuple[int, _Job]] = []
        for index, request in enumerate(requests):
            try:
                jobs.append((index, _Job(self._verify(request), None, b"")))
            except Refusal as refusal:
                results[index] = refusal
        for (index, _), outcome in zip(jobs, self._accept_lone_or_all([job for _, job in jobs]), strict=True):
            results[index] = outcome
        return [result for result in results if result is not None]

    def close(self) -> None:
        self._committer.close()

    def _accept_all(self, jobs: Sequence[_Job]) -> list[Receipt | Refusal]:
        """One transaction for all `jobs`, each in its own savepoint so a refusal undoes only its
        own writes. Jobs run in (payer, token) order, so two groups always lock accounts in the
        same order and cannot deadlock."""
        results: list[Receipt | Refusal | None] = [None] * len(jobs)
        created: list[Receipt] = []
        order = sorted(
            range(len(jobs)),
            key=lambda i: (jobs[i].verified.request.voucher.payer, jobs[i].verified.request.voucher.token),
        )
        with self._db.transaction() as conn:
            for index in order:
                savepoint = conn.begin_nested() if len(jobs) > 1 else None
                try:
                    receipt, is_new = self._accept_job(conn, jobs[index])
                except Refusal as refusal:
                    if savepoint is None:
                        raise _Refused(refusal) from refusal  # rolls the lone transaction back
                    savepoint.rollback()
                    results[index] = refusal
                    continue
                if savepoint is not None:
                    savepoint.commit()
                results[index] = receipt
                if is_new:
                    created.append(receipt)
        for receipt in created:
            self._events.receipt_accepted(receipt)
        return [result for result in results if result is not None]

    def _accept_job(self, conn: Connection, job: _Job) -> tuple[Receipt, bool]:
        payer = job.verified.request.voucher.payer
        if job.idempotency_key is not None:
            replay = self._replay(conn, job.idempotency_key, payer, job.fingerprint)
            if replay is not None:
                return replay, False
        receipt, created = self._accept(conn, job.verified)
        if job.idempotency_key is not None:
            idempotency.save(
                conn, _scope(payer), job.idempotency_key, job.fingerprint, receipt.id, self._clock()
            )
        return receipt, created

    # ------------------------------------------------------------------ steps

    def _verify(self, request: PayRequest) -> _Verified:
        """Checks what needs no lock: the resource, the amounts, and who signed."""
        voucher = request.voucher
        if not 0 < voucher.cumulative_amount <= UINT128_MAX:
            raise InvalidInput(
                f"cumulativeAmount must be between 1 and 2^128-1, got {voucher.cumulative_amount}"
            )
        if len(voucher.purchase) != 32:
            raise InvalidInput("purchase must be 32 bytes")
        with self._db.read() as conn:
            resource = catalog.get_resource(conn, request.resource_id)
        if resource is None or not resource.active:
            raise UnknownResource(
                f"no resource {request.resource_id!r} is for sale", resource=request.resource_id
            )
        if (voucher.payee, voucher.token) != (resource.payee, resource.token):
            raise ResourceMismatch(
                f"resource {resource.id!r} is paid to {resource.payee} in token {resource.token}",
                payee=resource.payee,
                token=resource.token,
            )
        digest = voucher_digest(self._domain, voucher)
        signer = recover(digest, request.signature)
        if signer != voucher.payer:
            if signer is not None:
                with self._db.read() as conn:
                    is_key = payments.get_session_key(conn, voucher.payer, signer) is not None
                if is_key:  # its rules are checked under the payer's lock
                    return _Verified(request=request, signer=signer, price=resource.price)
            # Not the payer's own key nor one of its session keys: a contract wallet may still accept it.
            if not (self._erc1271 is not None and self._erc1271(voucher.payer, digest, request.signature)):
                raise BadSignature(
                    "the signature is malformed, or signed by neither the payer nor one of its session keys"
                )
        return _Verified(request=request, signer=voucher.payer, price=resource.price)

    def _accept(self, conn: Connection, item: _Verified) -> tuple[Receipt, bool]:
        """The locked part: returns the receipt and whether it is new."""
        voucher = item.request.voucher
        account = payments.lock_account(conn, voucher.payer, voucher.token)
        if account is None:
            raise InsufficientFunds(
                f"no deposit of {voucher.token} by {voucher.payer} has been confirmed yet: deposit first",
                headroom=0,
                price=item.price,
            )
        channel_key = channel_id(voucher.payer, voucher.payee, voucher.token)
        existing = payments.find_receipt(conn, channel_key, voucher.cumulative_amount)
        if existing is not None and existing.voucher.purchase == voucher.purchase:
            return existing, False  # the same voucher again: same receipt, charged once
        channel = payments.get_channel(conn, channel_key)
        rules.check_voucher(
            voucher, item.price, channel or rules.Channel(accepted=0, claimed=0, latest=None), account
        )
        session_key = None
        if item.signer != voucher.payer:
            session_key = payments.get_session_key(conn, voucher.payer, item.signer)
            rules.check_session_key(
                session_key, voucher.token, item.price, self._clock(), self._settle_margin
            )
        receipt = Receipt(
            id=receipt_id(channel_key, voucher.cumulative_amount),
            voucher=voucher,
            signature=item.request.signature,
            signer=item.signer,
            price=item.price,
            resource_id=item.request.resource_id,
            status=ReceiptStatus.ACCEPTED,
            created_at=self._clock(),
        )
        try:
            payments.record_acceptance(conn, receipt, channel, account, session_key)
        except IntegrityError as error:
            if is_unique_violation(error):  # only reachable if the account lock was bypassed
                raise InvalidInput("this voucher was accepted concurrently; resubmit it") from error
            raise
        return receipt, True

    def _replay(self, conn: Connection, key: str, payer: Address, fingerprint: bytes) -> Receipt | None:
        stored = idempotency.find(conn, _scope(payer), key)
        if stored is None:
            return None
        stored_fingerprint, stored_receipt = stored
        if stored_fingerprint != fingerprint:
            raise IdempotencyConflict(f"idempotency key {key!r} was used for a different voucher")
        receipt = payments.get_receipt(conn, stored_receipt)
        assert receipt is not None  # saved in the same transaction as the receipt
        return receipt


def _scope(payer: Address) -> str:
    return f"pay:{payer}"


def _fingerprint(request: PayRequest) -> bytes:
    voucher = request.voucher
    canonical = json.dumps(
        [
            voucher.payer,
            voucher.payee,
            voucher.token,
            voucher.cumulative_amount,
            voucher.purchase.hex(),
            request.signature.hex(),
            request.resource_id,
        ]
    )
    return hashlib.sha256(canonical.encode()).digest()

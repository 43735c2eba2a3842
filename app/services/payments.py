"""Accepting vouchers (docs/protocol.md, "What the server accepts").

The signature is recovered first, outside any lock (CPU work), and the acknowledgement is signed
there too; it is returned only with a receipt. Then a group of vouchers (one pay, the pays
that arrived together, or a payBatch) is decided in one transaction: it locks the accounts of the
group's payers, reads the lanes, receipts and grants the rules need, applies
`app.core.ledger.check_pay` to each voucher in turn against that state, and writes what was
accepted. The transaction commits before any receipt is returned: an acknowledged receipt is durable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from app.core import access, ledger
from app.core.eip712 import Acknowledgement, Domain, PayerVoucher, digest, entries_hash
from app.core.errors import (
    BadSignature,
    CumulativeMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    Refusal,
    ResourceMismatch,
    SignerNotAuthorized,
    Transient,
    UnknownResource,
)
from app.core.receipts import Receipt, ReceiptStatus, SignedVoucher, receipt_id
from app.core.signatures import recover
from app.core.types import Address
from app.services.catalog import Resources
from app.services.committer import GroupCommitter
from app.services.events import EventBus
from app.store import access as holdings
from app.store import catalog, idempotency, payments
from app.store.catalog import Resource
from app.store.database import Database
from app.store.payments import Group, LaneKey

log = logging.getLogger(__name__)

Acknowledge = Callable[[bytes], bytes]
"""(the Acknowledgement's EIP-712 digest) -> the operator's signature of it."""
Held = dict[tuple[Address, str], tuple[str, int] | None]
"""(payer, resource id) -> its latest receipt (id, accepted at), for resources not paid per use."""

# Lanes are BigInteger columns: the server hands out small numbers.
MAX_STORED_LANE = 2**63 - 1
# A lane the chain skipped for one of these takes no more vouchers.
_DEAD = {reason.name for reason in ledger.FINAL_SKIPS}


@dataclass(frozen=True)
class PayRequest:
    voucher: PayerVoucher
    signature: bytes
    resource_id: str


@dataclass(frozen=True)
class _Verified:
    request: PayRequest
    resource: Resource
    signer: Address  # the payer itself, or the session key that signed
    digest: bytes
    acknowledgement: bytes

    @property
    def lane_key(self) -> LaneKey:
        v = self.request.voucher
        return (v.payer, v.token, v.lane)


@dataclass(frozen=True)
class _Job:
    verified: _Verified
    idempotency_key: str | None
    fingerprint: bytes


class Payments:
    def __init__(
        self,
        db: Database,
        domain: Domain,
        clock: Callable[[], int],
        events: EventBus,
        settle_margin: int,
        acknowledge: Acknowledge,
        resources: Resources | None = None,
    ) -> None:
        self._db = db
        self._resources = resources if resources is not None else Resources(db)
        self._domain = domain
        self._clock = clock
        self._events = events
        self._settle_margin = settle_margin
        self._acknowledge = acknowledge
        self._committer: GroupCommitter[_Job, Receipt | Refusal] = GroupCommitter(self._accept_all)

    def pay(self, request: PayRequest, idempotency_key: str | None = None) -> Receipt:
        """Accepts one voucher, or raises the Refusal that says why not. Returns once the receipt
        is committed (pays arriving together share that commit: see app.services.committer)."""
        job = _Job(self._verify(request), idempotency_key, _fingerprint(request))
        outcome = self._committer.submit(job)
        if isinstance(outcome, Refusal):
            raise outcome
        return outcome

    async def pay_async(self, request: PayRequest, idempotency_key: str | None = None) -> Receipt:
        """`pay` for the event loop: the voucher is verified on the loop (CPU only: the resource
        comes from memory, or from a worker thread on a miss) and the receipt is awaited, so a
        waiting pay holds no thread."""
        resource = self._resources.cached(request.resource_id)
        if resource is None:
            resource = await asyncio.to_thread(self._resources.get, request.resource_id)
        verified = self._verify(request, {request.resource_id: resource} if resource else {})
        outcome = await self._committer.submit_async(_Job(verified, idempotency_key, _fingerprint(request)))
        if isinstance(outcome, Refusal):
            raise outcome
        return outcome

    def pay_batch(self, requests: Sequence[PayRequest]) -> list[Receipt | Refusal]:
        """Accepts many vouchers in one transaction; each is accepted or refused on its own,
        and the results come back in the order of the requests."""
        results: list[Receipt | Refusal | None] = [None] * len(requests)
        jobs: list[tuple[int, _Job]] = []
        with self._db.read() as conn:
            resources = catalog.get_resources(conn, {r.resource_id for r in requests})
        for index, request in enumerate(requests):
            try:
                jobs.append((index, _Job(self._verify(request, resources), None, b"")))
            except Refusal as refusal:
                results[index] = refusal
        for (index, _), outcome in zip(jobs, self._accept_all([job for _, job in jobs]), strict=True):
            results[index] = outcome
        return [result for result in results if result is not None]

    def close(self) -> None:
        self._committer.close()

    # ------------------------------------------------------------------ steps

    def _verify(self, request: PayRequest, resources: dict[str, Resource] | None = None) -> _Verified:
        """Checks what needs no lock: the shape, the resource, and who signed; then acknowledges."""
        voucher = request.voucher
        ledger.check_voucher_shape(voucher)
        if voucher.lane > MAX_STORED_LANE:
            raise SignerNotAuthorized(
                f"lane {voucher.lane} was not handed out by this server: use voucherToSign"
            )
        if resources is None:
            resource = self._resources.get(request.resource_id)  # memory first, as pay_async does
        else:
            resource = resources.get(request.resource_id)
        if resource is None or not resource.active:
            raise UnknownResource(
                f"no resource {request.resource_id!r} is for sale", resource=request.resource_id
            )
        if voucher.token != resource.token or voucher.amount_for(resource.payee) == 0:
            raise ResourceMismatch(
                f"resource {resource.id!r} is paid to {resource.payee} in token {resource.token}",
                payee=resource.payee,
                token=resource.token,
            )
        voucher_digest = digest(self._domain, voucher)
        signer = recover(voucher_digest, request.signature)
        if signer is None:
            raise BadSignature(
                "the signature is malformed: 65 bytes (r, s, v) with v 27 or 28, or 64 bytes (EIP-2098), "
                "with low s"
            )
        # Whether the signer speaks for the payer (a key it authorised on chain) or holds a grant
        # for this lane is decided under the payer's lock, with the chain's time and revocations.
        acknowledgement = self._acknowledge(digest(self._domain, Acknowledgement(voucher_digest)))
        return _Verified(request, resource, signer, voucher_digest, acknowledgement)

    def _accept_all(self, jobs: Sequence[_Job]) -> list[Receipt | Refusal]:
        """Decides a group of vouchers in one transaction (see the module docstring). Vouchers of
        one lane are decided in the order they came, each against the state the previous left."""
        if not jobs:
            return []
        now = self._clock()
        items = [job.verified for job in jobs]
        wanted_keys = [(_scope(j.verified.request.voucher.payer), j.idempotency_key)
                       for j in jobs if j.idempotency_key is not None]  # fmt: skip
        results: list[Receipt | Refusal] = []
        try:
            with self._db.transaction() as conn:
                group = payments.lock_group(
                    conn,
                    accounts_wanted={(i.request.voucher.payer, i.request.voucher.token) for i in items},
                    lanes_wanted={i.lane_key for i in items},
                    receipt_ids={receipt_id(i.digest) for i in items},
                    grants_wanted={(v.payer, i.signer, v.token, v.lane)
                                   for i in items for v in [i.request.voucher] if i.signer != v.payer},
                )  # fmt: skip
                chain_now = max(payments.chain_time(conn) or 0, now)
                replays = idempotency.find_many(conn, wanted_keys)
                held: Held = {key: holdings.latest_receipt(conn, *key) for key in {
                    (i.request.voucher.payer, i.resource.id)
                    for i in items if i.resource.access is not access.AccessModel.PER_USE}}  # fmt: skip
                saved: list[tuple[str, str, bytes, str]] = []
                for job in jobs:
                    try:
                        results.append(self._decide(conn, group, job, replays, saved, held, now, chain_now))
                    except Refusal as refusal:
                        results.append(refusal)
                payments.write_group(conn, group, now)
                idempotency.save_many(conn, saved, now)
        except IntegrityError as error:  # the account locks make this unreachable; never half-written
            raise Transient("a concurrent write conflicted with this group of vouchers; retry") from error
        for receipt in group.new_receipts:
            self._events.receipt_accepted(receipt)
        return results

    def _decide(
        self,
        conn: Connection,
        group: Group,
        job: _Job,
        replays: dict[tuple[str, str], tuple[bytes, str]],
        saved: list[tuple[str, str, bytes, str]],
        held: Held,
        now: int,
        chain_now: int,
    ) -> Receipt:
        """One voucher of the group: the receipt (new, or the one it already has), or a Refusal."""
        item = job.verified
        scope = _scope(item.request.voucher.payer)
        if job.idempotency_key is not None:
            replay = replays.get((scope, job.idempotency_key))
            if replay is not None:
                fingerprint, stored_id = replay
                if fingerprint != job.fingerprint:
                    raise IdempotencyConflict(
                        f"idempotency key {job.idempotency_key!r} was used for a different voucher"
                    )
                return self._receipt(conn, group, stored_id)
        receipt = self._accept(group, item, held, now, chain_now)
        if job.idempotency_key is not None:
            replays[(scope, job.idempotency_key)] = (job.fingerprint, receipt.id)
            saved.append((scope, job.idempotency_key, job.fingerprint, receipt.id))
        return receipt

    def _accept(self, group: Group, item: _Verified, held: Held, now: int, chain_now: int) -> Receipt:
        voucher = item.request.voucher
        rid = receipt_id(item.digest)
        existing = group.receipts.get(rid) or next((r for r in group.new_receipts if r.id == rid), None)
        if existing is not None:
            if existing.resource_id != item.resource.id:
                # One voucher buys one thing: offered again for another resource, it would unlock
                # that one without paying for it.
                raise ResourceMismatch(
                    f"this voucher already paid for {existing.resource_id!r}: sign a new one for "
                    f"{item.resource.id!r}",
                    resource=existing.resource_id,
                )
            return existing  # the same voucher again: same receipt, charged once
        account = group.accounts.get((voucher.payer, voucher.token))
        if account is None:
            raise InsufficientFunds(
                f"no deposit of {voucher.token} by {voucher.payer} has been confirmed yet: deposit first",
                headroom=0,
                price=item.resource.price,
            )
        lane = group.lanes[item.lane_key]
        grant = None
        if item.signer != voucher.payer and item.signer not in group.authorized.get(voucher.payer, set()):
            grant = group.grants.get((voucher.payer, item.signer, voucher.token, voucher.lane))
            if grant is None:
                raise BadSignature(
                    "the signature is malformed, or signed by neither the payer nor a session key "
                    "with a grant for this lane: authorise the key first"
                )
        # After the signer is known to speak for the payer: the refusal then proves the payer holds
        # it (the paywall serves it on that proof).
        _refuse_if_held(item, held, now)
        if lane.blocked in _DEAD:
            raise SignerNotAuthorized(
                f"the chain can no longer pay lane {voucher.lane} ({lane.blocked}): ask voucherToSign "
                "for another lane, or authorise a new key",
                lane=voucher.lane,
            )
        if lane.seq > 0 and lane.signer != item.signer:
            # A lane belongs to one signer: the wallet's lanes and each key's lane stay apart, so a
            # key's cap (the sum of its lane's vector) only ever counts what that key signed.
            raise SignerNotAuthorized(
                f"lane {voucher.lane} is signed by {lane.signer}: sign on your own lane (see voucherToSign)",
                lane=voucher.lane,
            )
        try:
            ledger.check_pay(
                voucher, item.resource.payee, item.resource.price, lane.accepted, account, grant, chain_now,
                self._settle_margin,
            )  # fmt: skip
        except CumulativeMismatch as mismatch:
            latest = None
            if lane.latest is not None:
                latest = SignedVoucher(
                    PayerVoucher(
                        voucher.payer, voucher.token, voucher.lane, lane.accepted, lane.latest.purchase
                    ),
                    lane.latest.signature,
                    lane.latest.acknowledgement,
                    lane.latest.signer,
                )
            raise CumulativeMismatch(
                mismatch.message, expected=mismatch.fields["expected"], latest=latest
            ) from None
        price = item.resource.price
        receipt = Receipt(
            id=rid,
            payer=voucher.payer,
            token=voucher.token,
            lane=voucher.lane,
            lane_seq=lane.seq + 1,
            payee=item.resource.payee,
            price=price,
            cumulative_amount=voucher.amount_for(item.resource.payee),
            purchase=voucher.purchase,
            entries_hash=entries_hash(voucher.entries),
            signature=item.request.signature,
            acknowledgement=item.acknowledgement,
            signer=item.signer,
            resource_id=item.resource.id,
            status=ReceiptStatus.ACCEPTED,
            created_at=now,
        )
        group.accounts[(voucher.payer, voucher.token)] = replace(
            account, outstanding=account.outstanding + price
        )
        group.touched_accounts.add((voucher.payer, voucher.token))
        lane.signer, lane.seq, lane.accepted = item.signer, lane.seq + 1, voucher.entries
        lane.accepted_total += price
        lane.latest = receipt
        lane.changed.add(item.resource.payee)
        if lane.oldest_unclaimed_at is None:
            lane.oldest_unclaimed_at = now
        group.new_receipts.append(receipt)
        if item.resource.access is not access.AccessModel.PER_USE:
            held[(voucher.payer, item.resource.id)] = (rid, now)  # a second pay in this group sees it
        return receipt

    def _receipt(self, conn: Connection, group: Group, receipt_id_: str) -> Receipt:
        for receipt in group.new_receipts:
            if receipt.id == receipt_id_:
                return receipt
        stored = payments.get_receipt(conn, receipt_id_)
        assert stored is not None  # saved in the same transaction as its receipt
        return stored


def _refuse_if_held(item: _Verified, held: Held, now: int) -> None:
    """A purchase owned, or a time pass running, is never charged again: checked under the payer's
    lock, so two pays for it at once cannot both pass."""
    resource = item.resource
    if resource.access is not access.AccessModel.PER_USE:
        latest = held[(item.request.voucher.payer, resource.id)]
        now_held = access.access(resource.access, resource.pass_seconds, latest, now)
        access.check_not_owned(resource.id, now_held)


def _scope(payer: Address) -> str:
    return f"pay:{payer}"


def _fingerprint(request: PayRequest) -> bytes:
    voucher = request.voucher
    canonical = json.dumps(
        [
            voucher.payer,
            voucher.token,
            voucher.lane,
            [[e.payee, e.cumulative_amount] for e in voucher.entries],
            voucher.purchase.hex(),
            request.signature.hex(),
            request.resource_id,
        ]
    )
    return hashlib.sha256(canonical.encode()).digest()

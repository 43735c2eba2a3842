"""Accepting vouchers.

The signature is checked first, outside any lock (it is CPU work, and an EIP-1271 check is a
chain call). Then a group of vouchers (one pay, the pays that arrived together, or a payBatch)
is decided in one transaction: it locks the accounts of the group's payers, reads what the rules
need in a few queries, applies app.core.rules to each voucher in turn against that state, and
writes what was accepted in a few more. The transaction commits before any receipt is returned:
an acknowledged receipt is durable.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

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
    Transient,
    UnknownResource,
)
from app.core.receipts import Receipt, ReceiptStatus
from app.core.signatures import recover
from app.core.types import UINT128_MAX, Address
from app.services.committer import GroupCommitter
from app.services.events import EventBus
from app.store import catalog, idempotency, payments
from app.store.catalog import Resource
from app.store.database import Database
from app.store.payments import Group

log = logging.getLogger(__name__)

Erc1271Check = Callable[[Address, bytes, bytes], bool]
"""(wallet, digest, signature) -> does the wallet accept it (EIP-1271)."""


@dataclass(frozen=True)
class PayRequest:
    voucher: Voucher
    signature: bytes
    resource_id: str


@dataclass(frozen=True)
class _Verified:
    request: PayRequest
    signer: Address  # the payer itself, or a session key of the payer
    price: int
    channel: bytes


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
        self._clock = clock
        self._events = events
        self._settle_margin = settle_margin
        self._erc1271 = erc1271
        self._committer: GroupCommitter[_Job, Receipt | Refusal] = GroupCommitter(self._accept_all)

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
        with self._db.read() as conn:  # what _verify reads, for the whole batch at once
            resources = catalog.get_resources(conn, {r.resource_id for r in requests})
            keys = payments.known_session_keys(conn, {r.voucher.payer for r in requests})
        for index, request in enumerate(requests):
            try:
                jobs.append((index, _Job(self._verify(request, resources, keys), None, b"")))
            except Refusal as refusal:
                results[index] = refusal
        for (index, _), outcome in zip(jobs, self._accept_all([job for _, job in jobs]), strict=True):
            results[index] = outcome
        return [result for result in results if result is not None]

    def close(self) -> None:
        self._committer.close()

    # ------------------------------------------------------------------ steps

    def _verify(
        self,
        request: PayRequest,
        resources: dict[str, Resource] | None = None,
        session_keys: set[tuple[Address, Address]] | None = None,
    ) -> _Verified:
        """Checks what needs no lock: the resource, the amounts, and who signed. A batch passes
        the resources and the session keys of its payers, read once for all its vouchers."""
        voucher = request.voucher
        if not 0 < voucher.cumulative_amount <= UINT128_MAX:
            raise InvalidInput(
                f"cumulativeAmount must be between 1 and 2^128-1, got {voucher.cumulative_amount}"
            )
        if len(voucher.purchase) != 32:
            raise InvalidInput("purchase must be 32 bytes")
        if resources is None:
            with self._db.read() as conn:
                resource = catalog.get_resource(conn, request.resource_id)
        else:
            resource = resources.get(request.resource_id)
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
        channel = channel_id(voucher.payer, voucher.payee, voucher.token)
        digest = voucher_digest(self._domain, voucher)
        signer = recover(digest, request.signature)
        if signer != voucher.payer:
            if signer is not None:
                if session_keys is None:
                    with self._db.read() as conn:
                        is_key = payments.get_session_key(conn, voucher.payer, signer) is not None
                else:
                    is_key = (voucher.payer, signer) in session_keys
                if is_key:  # its rules are checked under the payer's lock
                    return _Verified(request, signer, resource.price, channel)
            # Not the payer's own key nor one of its session keys: a contract wallet may still accept it.
            if not (self._erc1271 is not None and self._erc1271(voucher.payer, digest, request.signature)):
                raise BadSignature(
                    "the signature is malformed, or signed by neither the payer nor one of its session keys"
                )
        return _Verified(request, voucher.payer, resource.price, channel)

    def _accept_all(self, jobs: Sequence[_Job]) -> list[Receipt | Refusal]:
        """Decides a group of vouchers in one transaction (see the module docstring). Vouchers of
        one payer are decided in the order they came, each against the state the previous left."""
        if not jobs:
            return []
        now = self._clock()
        vouchers = [job.verified.request.voucher for job in jobs]
        wanted_keys = [(_scope(v.payer), job.idempotency_key) for v, job in zip(vouchers, jobs, strict=True)
                       if job.idempotency_key is not None]  # fmt: skip
        results: list[Receipt | Refusal] = []
        try:
            with self._db.transaction() as conn:
                group = payments.lock_group(
                    conn,
                    accounts_wanted={(v.payer, v.token) for v in vouchers},
                    channels_wanted={(j.verified.channel, v.payer, v.payee, v.token)
                                     for v, j in zip(vouchers, jobs, strict=True)},
                    receipts_wanted={(j.verified.channel, v.cumulative_amount)
                                     for v, j in zip(vouchers, jobs, strict=True)},
                    keys_wanted={(v.payer, j.verified.signer) for v, j in zip(vouchers, jobs, strict=True)
                                 if j.verified.signer != v.payer},
                )  # fmt: skip
                replays = idempotency.find_many(conn, wanted_keys)
                saved: list[tuple[str, str, bytes, str]] = []
                for job in jobs:
                    try:
                        results.append(self._decide(conn, group, job, replays, saved, now))
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
        now: int,
    ) -> Receipt:
        """One voucher of the group: the receipt (new, or the one it already has), or a Refusal."""
        item = job.verified
        voucher = item.request.voucher
        scope = _scope(voucher.payer)
        if job.idempotency_key is not None:
            replay = replays.get((scope, job.idempotency_key))
            if replay is not None:
                fingerprint, stored_id = replay
                if fingerprint != job.fingerprint:
                    raise IdempotencyConflict(
                        f"idempotency key {job.idempotency_key!r} was used for a different voucher"
                    )
                return self._receipt(conn, group, stored_id)
        receipt = self._accept(conn, group, item, now)
        if job.idempotency_key is not None:
            replays[(scope, job.idempotency_key)] = (job.fingerprint, receipt.id)
            saved.append((scope, job.idempotency_key, job.fingerprint, receipt.id))
        return receipt

    def _accept(self, conn: Connection, group: Group, item: _Verified, now: int) -> Receipt:
        voucher = item.request.voucher
        account = group.accounts.get((voucher.payer, voucher.token))
        if account is None:
            raise InsufficientFunds(
                f"no deposit of {voucher.token} by {voucher.payer} has been confirmed yet: deposit first",
                headroom=0,
                price=item.price,
            )
        existing = group.receipts.get((item.channel, voucher.cumulative_amount))
        if existing is not None and existing.voucher.purchase == voucher.purchase:
            return existing  # the same voucher again: same receipt, charged once
        state = group.channels[item.channel]
        base = max(state.accepted, state.claimed)
        latest = None
        if voucher.cumulative_amount != base + item.price:  # read only to explain a refusal
            latest = payments.latest_voucher(conn, group, item.channel)
        rules.check_voucher(
            voucher, item.price, rules.Channel(state.accepted, state.claimed, latest), account
        )
        session_key = None
        if item.signer != voucher.payer:
            session_key = group.session_keys.get((voucher.payer, item.signer))
            rules.check_session_key(session_key, voucher.token, item.price, now, self._settle_margin)
        receipt = Receipt(
            id=receipt_id(item.channel, voucher.cumulative_amount),
            voucher=voucher,
            signature=item.request.signature,
            signer=item.signer,
            price=item.price,
            resource_id=item.request.resource_id,
            status=ReceiptStatus.ACCEPTED,
            created_at=now,
        )
        # The channel's unclaimed part grows from max(accepted - claimed, 0) to cumulative - claimed.
        group.accounts[(voucher.payer, voucher.token)] = replace(
            account, outstanding=account.outstanding + voucher.cumulative_amount - base
        )
        group.touched_accounts.add((voucher.payer, voucher.token))
        if session_key is not None:
            group.session_keys[(voucher.payer, item.signer)] = replace(
                session_key, outstanding=session_key.outstanding + item.price
            )
            group.touched_keys.add((voucher.payer, item.signer))
        state.accepted, state.latest_receipt = voucher.cumulative_amount, receipt.id
        group.receipts[(item.channel, voucher.cumulative_amount)] = receipt
        group.new_receipts.append(receipt)
        return receipt

    def _receipt(self, conn: Connection, group: Group, receipt_id_: str) -> Receipt:
        for receipt in group.new_receipts:
            if receipt.id == receipt_id_:
                return receipt
        stored = payments.get_receipt(conn, receipt_id_)
        assert stored is not None  # saved in the same transaction as its receipt
        return stored


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

"""Batch settlement of lanes: claims the latest accepted voucher of many lanes, one `claim(token,
data)` transaction per token.

When to settle (SettlePolicy, all configurable by environment variables):
  - always, before anything can make a voucher unclaimable: a lane whose deadline (the payer's
    withdrawal becoming available, its key's grant expiring or its revocation taking effect, all
    in chain time) is within `urgency` seconds of the chain's clock is claimed now, whatever the
    batch size;
  - otherwise when enough lanes wait (`min_batch`), or the oldest unclaimed voucher is `max_age`
    seconds old, or a payer's unclaimed total reaches `max_outstanding`;
  - never once the claims of the last hour used `max_gas_per_hour`: the rest waits.
A claim holds at most `max_batch` lanes and 255 distinct payees, most urgent first, then oldest.
Lanes already in a pending claim transaction are left alone until it is mined.

Before sending, each block is judged by `ledger.claim_outcome` against the chain's views (the
lane's commitment, the payer's balance, the key's revocation, the latest block's time): a block
the chain would skip is not sent; its lane is marked `blocked` with the reason until something it
depends on changes (a new voucher, a claim, a deposit). The chain's own verdicts come back as
VoucherClaimed / VoucherSkipped events, which the indexer writes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from app.chain.calls import claim_calldata
from app.chain.interface import Hub
from app.chain.operator import Call
from app.core import ledger
from app.core.claims import MAX_PAYEES_PER_CLAIM, ZERO_ADDRESS, ClaimBlock, encode_claim
from app.core.eip712 import Entry, entries_hash
from app.core.types import Address, to_address
from app.services.clock import Clock
from app.services.transactions import Submitted, TxManager
from app.store import settlement
from app.store import transactions as sent
from app.store.database import Database
from app.store.settlement import Unclaimed, lane_label

log = logging.getLogger(__name__)

HOUR = 3600
ZERO_HASH = bytes(32)
# Stands for "the lane's claimed vector is not the block's previous": the commitment differs.
_NOT_PREVIOUS = (Entry(ZERO_ADDRESS, 0),)


@dataclass(frozen=True)
class SettlePolicy:
    max_batch: int = 200
    min_batch: int = 50
    max_age: int = 3600
    max_outstanding: int = 10 * 10**6  # 10 USDC at 6 decimals
    urgency: int = 1800
    max_gas_per_hour: int = 100_000_000


@dataclass(frozen=True)
class SettleResult:
    submitted: tuple[Submitted, ...]
    lanes: int  # lanes in the claims sent
    reason: str
    blocked: int = 0  # lanes the chain would skip: marked, not sent


class Settler:
    def __init__(
        self, db: Database, hub: Hub, transactions: TxManager, clock: Clock, policy: SettlePolicy
    ) -> None:
        self._db = db
        self._hub = hub
        self._transactions = transactions
        self._clock = clock
        self._policy = policy

    @property
    def transactions(self) -> TxManager:
        return self._transactions

    def candidates(self) -> list[Unclaimed]:
        """Unclaimed lanes not in a pending claim, most urgent first, then oldest."""
        in_flight = {
            lane
            for tx in self._transactions.pending()
            if tx.kind == "claim"
            for lane in tx.payload.get("lanes", [])
        }
        with self._db.read() as conn:
            found = [c for c in settlement.unclaimed(conn) if lane_label(c.key) not in in_flight]
        return sorted(found, key=lambda c: (c.deadline is None, c.deadline or 0, c.oldest_unclaimed_at))

    def gas_spent(self) -> int:
        """Gas of the claims signed in the last hour (their limits: an upper bound)."""
        with self._db.read() as conn:
            return sent.gas_since(conn, to_address(self._transactions.sender), "claim", self._clock() - HOUR)

    def settle_once(self, force: bool = False) -> SettleResult:
        if self._over_gas_cap():
            return SettleResult((), 0, "the claims of the last hour used SETTLE_MAX_GAS_PER_HOUR")
        candidates = self.candidates()
        if not candidates:
            return SettleResult((), 0, "nothing to claim")
        _, _, chain_now = self._hub.block(self._hub.head())
        reason = "forced" if force else self._why(candidates, chain_now)
        if reason is None:
            return SettleResult((), 0, "waiting for a fuller batch")
        if self._hub.operator() != to_address(self._transactions.sender):
            log.error("the hub's operator is %s, not this server's key %s: claims will be skipped",
                      self._hub.operator(), self._transactions.sender)  # fmt: skip
        by_token: dict[Address, list[Unclaimed]] = defaultdict(list)
        for candidate in candidates:
            by_token[candidate.token].append(candidate)
        submitted, claimed, blocked = [], 0, 0
        for token, lanes in by_token.items():
            if self._over_gas_cap():
                break
            batch = self._batch(lanes)
            sendable, skipped = self._predict(token, batch, chain_now)
            self._block(skipped)
            blocked += len(skipped)
            if not sendable:
                continue
            call = Call(
                to=self._hub.address,
                data=claim_calldata(token, encode_claim([block for _, block in sendable])),
                name="claim",
            )
            labels = [lane_label(lane.key) for lane, _ in sendable]
            payload = {"token": token, "lanes": labels, "reason": reason}
            done = self._transactions.submit(call, "claim", payload)
            log.info("claiming %d lanes in %s (%s) in nonce %d", len(sendable), token, reason, done.nonce)
            submitted.append(done)
            claimed += len(sendable)
        return SettleResult(tuple(submitted), claimed, reason, blocked)

    def _over_gas_cap(self) -> bool:
        spent = self.gas_spent()
        if spent >= self._policy.max_gas_per_hour:
            log.warning(
                "claims deferred: %d gas in the last hour, cap %d", spent, self._policy.max_gas_per_hour
            )
            return True
        return False

    def _why(self, candidates: list[Unclaimed], chain_now: int) -> str | None:
        now = self._clock()
        policy = self._policy
        if any(c.deadline is not None and c.deadline - chain_now <= policy.urgency for c in candidates):
            return "a voucher would soon become unclaimable"
        if len(candidates) >= policy.min_batch:
            return f"{len(candidates)} lanes waiting"
        if now - min(c.oldest_unclaimed_at for c in candidates) >= policy.max_age:
            return "the oldest voucher is old enough"
        if any(c.payer_outstanding >= policy.max_outstanding for c in candidates):
            return "a payer's unclaimed total is high"
        return None

    def _batch(self, lanes: list[Unclaimed]) -> list[tuple[Unclaimed, ClaimBlock]]:
        """Lanes in order, as many as fit one claim: max_batch lanes, 255 distinct payees."""
        batch: list[tuple[Unclaimed, ClaimBlock]] = []
        payees: set[Address] = set()
        with self._db.read() as conn:
            for lane in lanes:
                if len(batch) >= self._policy.max_batch:
                    break
                block = settlement.claim_block(conn, lane.key, lane.seq)
                more = {entry.payee for entry in block.voucher.entries} - payees
                if len(payees) + len(more) > MAX_PAYEES_PER_CLAIM:
                    continue  # a later lane with fewer new payees may still fit
                payees |= more
                batch.append((lane, block))
        return batch

    def _predict(
        self, token: Address, batch: list[tuple[Unclaimed, ClaimBlock]], chain_now: int
    ) -> tuple[list[tuple[Unclaimed, ClaimBlock]], list[tuple[Unclaimed, ledger.SkipReason]]]:
        """Splits the batch into the blocks the chain would pay now and those it would skip (and why),
        in order: a payer's earlier blocks in the claim spend its balance for the later ones."""
        sendable: list[tuple[Unclaimed, ClaimBlock]] = []
        skipped: list[tuple[Unclaimed, ledger.SkipReason]] = []
        balances: dict[Address, int] = {}
        for lane, block in batch:
            commitment = self._hub.lane_commitment(lane.payer, token, lane.lane)
            expected = entries_hash(block.previous) if block.previous else ZERO_HASH
            if lane.payer not in balances:
                balances[lane.payer] = self._hub.balance_of(lane.payer, token)
            grant = block.grant.grant if block.grant is not None else None
            # Signatures were checked when the vouchers were accepted; what time can still change is
            # a revocation taking effect, of the grant's key or of a key the payer authorised on chain.
            authorized_revoked = False
            if grant is None and lane.signer != lane.payer:
                revoked_at = self._hub.revoked_at(lane.payer, lane.signer)
                authorized_revoked = revoked_at != 0 and chain_now >= revoked_at
            facts = ledger.BlockFacts(
                previous=block.previous,
                voucher=block.voucher,
                acknowledged=True,  # the operator sends it
                payer_signed=grant is None and not authorized_revoked,
                grant=grant,
                grant_valid=True,
                signer_revoked=authorized_revoked,
            )
            chain = ledger.ChainLane(
                claimed=block.previous if commitment == expected else _NOT_PREVIOUS,
                balance=balances[lane.payer],
                revoked_at=self._hub.revoked_at(lane.payer, grant.signer) if grant is not None else 0,
                now=chain_now,
            )
            reason = ledger.claim_outcome(facts, chain)
            if reason is None:
                balances[lane.payer] -= ledger.total(block.voucher.entries) - ledger.total(block.previous)
                sendable.append((lane, block))
            else:
                skipped.append((lane, reason))
        return sendable, skipped

    def _block(self, skipped: list[tuple[Unclaimed, ledger.SkipReason]]) -> None:
        if not skipped:
            return
        with self._db.transaction() as conn:
            for lane, reason in skipped:
                log.warning(
                    "not claiming lane %s at voucher %d: the chain would skip it (%s)",
                    lane_label(lane.key), lane.seq, reason.name,
                )  # fmt: skip
                settlement.block_lane(conn, lane.key, reason.name, lane.seq)

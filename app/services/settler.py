"""Batch settlement: claims the latest accepted voucher of many channels in one transaction.

When to settle (SettlePolicy, all configurable by environment variables):
  - always, before anything can make a voucher unclaimable: a channel whose deadline (the
    payer's withdrawal becoming available, its session key expiring or its revocation taking
    effect) is within `urgency` seconds is claimed now, whatever the batch size;
  - otherwise when enough channels wait (`min_batch`), or the oldest unclaimed voucher is
    `max_age` seconds old, or a payer's unclaimed total reaches `max_outstanding`.
A claim holds at most `max_batch` rows, most urgent first, then oldest. Channels already in a
pending claim transaction are left alone until it is mined. The contract's verdict on each row
comes back as Claimed / ClaimSkipped events, which the indexer writes on the receipts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.services.clock import Clock
from app.services.transactions import Submitted, TxManager
from app.store import settlement
from app.store.database import Database
from app.store.settlement import Unclaimed, claim_row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SettlePolicy:
    max_batch: int = 200
    min_batch: int = 50
    max_age: int = 3600
    max_outstanding: int = 10 * 10**6  # 10 USDC at 6 decimals
    urgency: int = 1800


@dataclass(frozen=True)
class SettleResult:
    submitted: Submitted | None
    channels: int
    reason: str


class Settler:
    def __init__(self, db: Database, transactions: TxManager, clock: Clock, policy: SettlePolicy) -> None:
        self._db = db
        self._transactions = transactions
        self._clock = clock
        self._policy = policy

    @property
    def transactions(self) -> TxManager:
        return self._transactions

    def candidates(self) -> list[Unclaimed]:
        """Unclaimed channels not in a pending claim, most urgent first, then oldest."""
        in_flight = {
            bytes.fromhex(channel[2:])
            for tx in self._transactions.pending()
            if tx.kind == "claim"
            for channel in tx.payload.get("channels", [])
        }
        with self._db.read() as conn:
            found = [c for c in settlement.unclaimed(conn) if c.channel_id not in in_flight]
        return sorted(found, key=lambda c: (c.deadline is None, c.deadline or 0, c.oldest_unclaimed_at))

    def settle_once(self, force: bool = False) -> SettleResult:
        candidates = self.candidates()
        if not candidates:
            return SettleResult(None, 0, "nothing to claim")
        reason = "forced" if force else self._why(candidates)
        if reason is None:
            return SettleResult(None, 0, "waiting for a fuller batch")
        batch = candidates[: self._policy.max_batch]
        rows = [claim_row(c) for c in batch]
        call = self._transactions.encode("claim", rows)
        payload = {"channels": ["0x" + c.channel_id.hex() for c in batch], "reason": reason}
        submitted = self._transactions.submit(call, "claim", payload)
        log.info("claiming %d channels (%s) in nonce %d", len(batch), reason, submitted.nonce)
        return SettleResult(submitted, len(batch), reason)

    def _why(self, candidates: list[Unclaimed]) -> str | None:
        now = self._clock()
        policy = self._policy
        if any(c.deadline is not None and c.deadline - now <= policy.urgency for c in candidates):
            return "a voucher would soon become unclaimable"
        if len(candidates) >= policy.min_batch:
            return f"{len(candidates)} channels waiting"
        if now - min(c.oldest_unclaimed_at for c in candidates) >= policy.max_age:
            return "the oldest voucher is old enough"
        if any(c.payer_outstanding >= policy.max_outstanding for c in candidates):
            return "a payer's unclaimed total is high"
        return None

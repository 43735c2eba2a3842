"""One sender for the operator key: nonces kept in the store, every transaction simulated
before it is signed, fees bumped when it is stuck or underpriced, a dropped one broadcast
again, and a crash between sending and mining recovered from the store on restart.

    submit(call) ──simulate──▶ sign with the next nonce ──store (pending)──▶ broadcast
    tick()       ──for each pending: mined? ──▶ done
                                     dropped? ──▶ broadcast the same bytes again
                                     stuck or underpriced? ──▶ same nonce, fees +25%, broadcast

The signed bytes are stored before they are broadcast, so a crash can only leave a
transaction that tick() finds, sends again or sees mined; a nonce is never used twice, so a
claim can never be sent twice (and claiming the same voucher twice is a no-op on chain anyway).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from app import metrics
from app.chain.operator import Broadcast, Call, Operator
from app.services.clock import Clock
from app.store import transactions as store
from app.store.database import Database
from app.store.transactions import OperatorTx

log = logging.getLogger(__name__)

GAS_MARGIN = 1.25


@dataclass(frozen=True)
class Submitted:
    nonce: int
    tx_hash: bytes


class TxManager:
    def __init__(
        self, db: Database, operator: Operator, clock: Clock, bump_after: int = 30, bump_percent: int = 25
    ) -> None:
        self._db = db
        self._operator = operator
        self._clock = clock
        self._bump_after = bump_after
        self._bump_percent = max(bump_percent, 12)  # nodes want at least +10% to replace

    @property
    def sender(self) -> str:
        return self._operator.address

    def encode(self, function: str, *args: Any) -> Call:
        return self._operator.encode(function, *args)

    def submit(self, call: Call, kind: str, payload: dict[str, Any]) -> Submitted:
        """Simulates (raising Reverted with the hub's error), signs with the next nonce, stores, and
        broadcasts. Returns as soon as the transaction is stored and sent: tick() follows it."""
        self._operator.simulate(call)
        gas = int(self._operator.estimate_gas(call) * GAS_MARGIN)
        max_fee, priority_fee = self._operator.fees()
        chain_nonce = self._operator.nonce("pending")
        now = self._clock()
        with self._db.transaction() as conn:
            store.lock_sender(conn, self._operator.address)
            stored = store.next_nonce(conn, self._operator.address)
            nonce = chain_nonce if stored is None else max(stored, self._operator.nonce("latest"))
            raw, tx_hash = self._operator.sign(call, nonce, gas, max_fee, priority_fee)
            tx = OperatorTx(
                sender=self._operator.address,
                nonce=nonce,
                kind=kind,
                to=call.to,
                data=call.data,
                gas=gas,
                max_fee=max_fee,
                priority_fee=priority_fee,
                raw=raw,
                hashes=(tx_hash,),
                status="pending",
                payload=payload,
                created_at=now,
                sent_at=now,
                block_number=None,
            )
            store.insert(conn, tx)
        outcome = self._operator.broadcast(raw)
        log.info("sent %s nonce %d: 0x%s (%s)", kind, nonce, tx_hash.hex(), outcome.value)
        if outcome is Broadcast.UNDERPRICED:
            tx_hash = self._bump(tx)
        return Submitted(nonce=nonce, tx_hash=tx_hash)

    def get(self, nonce: int) -> OperatorTx | None:
        with self._db.read() as conn:
            return store.get(conn, self._operator.address, nonce)

    def pending(self) -> list[OperatorTx]:
        with self._db.read() as conn:
            return store.pending(conn, self._operator.address)

    def tick(self) -> int:
        """Follows every pending transaction one step; returns how many are still pending."""
        still_pending = 0
        for tx in self.pending():
            if self._settle_if_mined(tx):
                continue
            still_pending += 1
            last = tx.hashes[-1]
            if not self._operator.is_pending(last):
                if self._operator.nonce("latest") > tx.nonce:
                    continue  # mined in a block our receipt lookup has not seen yet; next tick
                outcome = self._operator.broadcast(tx.raw)
                log.warning("nonce %d was dropped by the node; broadcast again (%s)", tx.nonce, outcome.value)
                if outcome is Broadcast.UNDERPRICED:
                    self._bump(tx)
                else:
                    with self._db.transaction() as conn:
                        store.mark_resent(conn, tx, self._clock())
            elif self._clock() - tx.sent_at >= self._bump_after:
                log.warning(
                    "nonce %d pending for %d s; bumping its fees", tx.nonce, self._clock() - tx.sent_at
                )
                self._bump(tx)
        return still_pending

    def wait(self, nonce: int, timeout: float = 60, poll: float = 0.2) -> OperatorTx:
        """Ticks until the transaction with `nonce` is mined (for the CLI and tests)."""
        deadline = time.monotonic() + timeout
        while True:
            self.tick()
            tx = self.get(nonce)
            assert tx is not None, f"no transaction with nonce {nonce}"
            if tx.status != "pending" or time.monotonic() > deadline:
                return tx
            time.sleep(poll)

    def _settle_if_mined(self, tx: OperatorTx) -> bool:
        for tx_hash in reversed(tx.hashes):
            mined = self._operator.receipt(tx_hash)
            if mined is not None:
                status = "mined" if mined.success else "reverted"
                with self._db.transaction() as conn:
                    store.finish(conn, tx, status, mined.block_number)
                metrics.operator_transactions.labels(tx.kind, status).inc()
                metrics.operator_gas.labels(tx.kind).inc(mined.gas_used)
                log.info(
                    "%s nonce %d %s in block %d (gas %d)",
                    tx.kind,
                    tx.nonce,
                    status,
                    mined.block_number,
                    mined.gas_used,
                )
                return True
        return False

    def _bump(self, tx: OperatorTx) -> bytes:
        """Replaces the transaction with the same nonce and higher fees: +bump_percent on both fees,
        and at least what the chain asks for now."""
        current_max, current_tip = self._operator.fees()
        max_fee = max(tx.max_fee * (100 + self._bump_percent) // 100, current_max)
        tip = max(tx.priority_fee * (100 + self._bump_percent) // 100, current_tip)
        call = Call(to=tx.to, data=tx.data, name=tx.kind)
        raw, tx_hash = self._operator.sign(call, tx.nonce, tx.gas, max(max_fee, tip), tip)
        with self._db.transaction() as conn:
            store.record_attempt(conn, tx, raw, tx_hash, (max(max_fee, tip), tip), self._clock())
        outcome = self._operator.broadcast(raw)
        log.info(
            "replaced nonce %d with fees %d/%d: 0x%s (%s)",
            tx.nonce,
            max_fee,
            tip,
            tx_hash.hex(),
            outcome.value,
        )
        return tx_hash

"""Work a server process does besides answering requests: following the chain and settling.

Every process runs a Worker; only the one that holds the leadership does the work, so with
several processes on one PostgreSQL exactly one indexes and settles, and another takes over
within `interval` seconds of it dying.
"""

from __future__ import annotations

import logging
import threading
import time

from app import metrics
from app.core.errors import Transient
from app.services.indexer import Indexer, ReorgTooDeep
from app.services.leadership import Leadership
from app.services.settler import Settler
from app.services.transactions import TxManager

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        leadership: Leadership,
        indexer: Indexer,
        transactions: TxManager | None,
        settler: Settler | None,
        interval: float,
        settle_interval: float = 10.0,
    ) -> None:
        self._leadership = leadership
        self._indexer = indexer
        self._transactions = transactions
        self._settler = settler
        self._interval = interval
        # Deciding what to settle reads every unclaimed lane: done every few seconds, not at
        # every poll of the chain (the settler's own deadlines are minutes away, never seconds).
        self._settle_interval = settle_interval
        self._next_settle = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker", daemon=True)
        self.error: str | None = None
        self.leader = False
        self.stopped = False  # set when a reorganisation deeper than the confirmations stops indexing

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._leadership.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            leader = self._leadership.acquire()
            if leader != self.leader:
                log.info(
                    "this process %s the leader (indexing and settling)",
                    "is now" if leader else "is no longer",
                )
                self.leader = leader
            if leader:
                self.step()
            self._stop.wait(self._interval)

    def step(self) -> None:
        """One round of leader work; failures are logged and retried next round."""
        try:
            self._indexer.sync_once()
            if self._transactions is not None:
                self._transactions.tick()
            if self._settler is not None and time.monotonic() >= self._next_settle:
                self._next_settle = time.monotonic() + self._settle_interval
                settled = self._settler.settle_once()
                if settled.submitted:
                    metrics.settlement_batches.inc(len(settled.submitted))
                    metrics.settlement_lanes.inc(settled.lanes)
        except Transient as error:
            if self.error != str(error):
                log.warning("paused: %s", error)
            self.error = str(error)
        except ReorgTooDeep as error:
            log.error("indexing stopped: %s", error)
            self.error = str(error)
            self.stopped = True
            self._stop.set()
        except Exception:
            log.exception("background work failed; retrying")
        else:
            self.error = None

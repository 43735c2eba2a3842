"""Work a server process does besides answering requests: following the chain."""

from __future__ import annotations

import logging
import threading

from app.core.errors import Transient
from app.services.indexer import Indexer, ReorgTooDeep

log = logging.getLogger(__name__)


class IndexerLoop:
    """Runs Indexer.sync_once every `interval` seconds on a daemon thread until stopped.

    A node that is down is retried quietly (logged once per outage); a reorganisation deeper
    than the confirmation depth stops indexing and is reported by `error` (and /health)."""

    def __init__(self, indexer: Indexer, interval: float) -> None:
        self._indexer = indexer
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="indexer", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        node_down = False
        while not self._stop.is_set():
            try:
                result = self._indexer.sync_once()
                if node_down:
                    log.info("the node answers again; indexing resumed")
                node_down = False
                if result.events:
                    log.info("indexed %d events up to block %d", result.events, result.to_block)
            except Transient as error:
                if not node_down:
                    log.warning("indexing paused: %s", error)
                node_down = True
                self.error = str(error)
            except ReorgTooDeep as error:
                log.error("indexing stopped: %s", error)
                self.error = str(error)
                return
            except Exception:
                log.exception("indexing failed; retrying")
            else:
                self.error = None
            self._stop.wait(self._interval)

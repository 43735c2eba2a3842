"""Change notifications for subscriptions.

A `Change` says what changed (a receipt, an account, a creator's earnings), not
the new state: subscribers re-read the state they show, so a lost or repeated
notification never shows anything wrong. With SQLite the bus is in process;
with PostgreSQL every process NOTIFYs on one channel and LISTENs on it, so a
subscriber connected to any process hears about changes made by all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Protocol

from app.core.receipts import Receipt
from app.core.types import Address

log = logging.getLogger(__name__)

PG_CHANNEL = "micropayments"


@dataclass(frozen=True)
class Change:
    kind: str  # "receipt" | "account" | "earnings" | "session_key"
    payer: Address | None = None
    payee: Address | None = None
    token: Address | None = None
    receipt_id: str | None = None


class EventBus(Protocol):
    def publish(self, change: Change) -> None: ...

    def subscribe(self) -> AsyncIterator[Change]: ...

    def receipt_accepted(self, receipt: Receipt) -> None: ...

    def close(self) -> None: ...


class MemoryBus:
    """Delivers to subscribers of this process. publish() may be called from any thread."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Change]]] = set()
        self._lock = threading.Lock()
        self._queue_size = queue_size

    def publish(self, change: Change) -> None:
        self._deliver(change)

    def receipt_accepted(self, receipt: Receipt) -> None:
        self.publish(
            Change(
                "receipt",
                payer=receipt.payer,
                payee=receipt.payee,
                token=receipt.token,
                receipt_id=receipt.id,
            )
        )

    def _deliver(self, change: Change) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            with contextlib.suppress(RuntimeError):  # the subscriber's loop has closed
                loop.call_soon_threadsafe(_put_or_drop, queue, change)

    async def subscribe(self) -> AsyncIterator[Change]:
        queue: asyncio.Queue[Change] = asyncio.Queue(self._queue_size)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.add(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()


def _put_or_drop(queue: asyncio.Queue[Change], change: Change) -> None:
    # A subscriber too slow to keep up misses changes rather than growing without bound;
    # since changes only say "re-read", the next one it gets brings it up to date.
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(change)


class PostgresBus(MemoryBus):
    """NOTIFY on publish; a background thread LISTENs and delivers to this process's subscribers."""

    def __init__(self, conninfo: str) -> None:
        super().__init__()
        import psycopg

        self._conninfo = conninfo
        self._psycopg = psycopg
        self._publisher = psycopg.connect(conninfo, autocommit=True)
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="pg-listen", daemon=True)
        self._listener.start()

    def publish(self, change: Change) -> None:
        payload = json.dumps(asdict(change))
        try:
            with self._publish_lock:
                self._publisher.execute("SELECT pg_notify(%s, %s)", (PG_CHANNEL, payload))
        except self._psycopg.Error:
            log.warning("could not NOTIFY a change; reconnecting", exc_info=True)
            with self._publish_lock:
                self._publisher = self._psycopg.connect(self._conninfo, autocommit=True)
                self._publisher.execute("SELECT pg_notify(%s, %s)", (PG_CHANNEL, payload))

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with self._psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {PG_CHANNEL}")
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            self._deliver(Change(**json.loads(notify.payload)))
            except self._psycopg.Error:
                log.warning("LISTEN connection lost; reconnecting in 1 s", exc_info=True)
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._listener.join(timeout=5)
        self._publisher.close()
        super().close()


def pg_conninfo(sqlalchemy_url: str) -> str:
    """psycopg's connection string from a SQLAlchemy URL."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)

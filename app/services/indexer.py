"""Follows the hub's events into the store.

Blocks are applied only once they have `confirmations` blocks on top of them.
Each chunk of blocks is applied in one transaction together with the cursor
(the last block applied and its hash), so a crash never applies an event
twice or skips one: the next run resumes from the cursor. Before each run the
cursor's block hash is compared with the chain's: if a reorganisation has
replaced a block already applied, indexing stops loudly (ReorgTooDeep) rather
than guess.

Every run also records the head block's timestamp (chain_cursor.head_timestamp): the chain's
clock, which the server compares deadlines with (key expiry, revocation, withdrawals).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, select

from app.chain.interface import Hub
from app.core import events as ev
from app.core.errors import Transient
from app.services.clock import Clock
from app.services.events import Change, EventBus
from app.store import index
from app.store.database import Database
from app.store.tables import chain_cursor

log = logging.getLogger(__name__)

CURSOR = "hub"
HEAD = "head"  # the newest block seen, confirmed or not: its timestamp is the chain's clock


class ReorgTooDeep(Exception):
    """A block the index already applied is no longer on the chain: more confirmations are needed."""


@dataclass(frozen=True)
class SyncResult:
    from_block: int
    to_block: int
    events: int


class Indexer:
    def __init__(
        self,
        db: Database,
        hub: Hub,
        bus: EventBus,
        clock: Clock,
        start_block: int,
        confirmations: int,
        chunk_size: int = 2000,
    ) -> None:
        self._db = db
        self._hub = hub
        self._bus = bus
        self._clock = clock
        self._start_block = start_block
        self._confirmations = confirmations
        self._chunk_size = chunk_size
        self._last_hash = b""

    @property
    def start_block(self) -> int:
        return self._start_block

    def cursor(self) -> tuple[int, bytes] | None:
        with self._db.read() as conn:
            return _read_cursor(conn)

    def sync_once(self) -> SyncResult:
        """Applies every confirmed block not yet applied. Raises Transient when the node is down."""
        cursor = self.cursor()
        if cursor is not None:
            number, block_hash = cursor
            _, canonical, _ = self._hub.block(number)
            if canonical != block_hash:
                raise ReorgTooDeep(
                    f"block {number} was applied with hash 0x{block_hash.hex()} but the chain now has "
                    f"0x{canonical.hex()}: a reorganisation deeper than CONFIRMATIONS={self._confirmations}"
                )
        first = self._start_block if cursor is None else cursor[0] + 1
        head = self._hub.head()
        self._record_head(head)
        target = head - self._confirmations
        if target < first:
            self._watch_unconfirmed(max(first, target + 1), head)
            return SyncResult(first, first - 1, 0)
        total = 0
        for start in range(first, target + 1, self._chunk_size):
            end = min(start + self._chunk_size - 1, target)
            applied = self._apply_range(start, end, expected_cursor=cursor)
            if applied is None:
                log.info("another process indexed blocks %d..%d first; stopping this run", start, end)
                break
            total += applied
            cursor = (end, self._last_hash)
            if target - first + 1 > self._chunk_size:
                log.info("indexed blocks %d..%d of %d (%d events so far)", start, end, target, total)
        self._watch_unconfirmed(target + 1, head)
        return SyncResult(first, target, total)

    def _record_head(self, head: int) -> None:
        number, block_hash, timestamp = self._hub.block(head)
        with self._db.transaction() as conn:
            _write_head(conn, number, block_hash, timestamp, self._clock())

    def _watch_unconfirmed(self, start: int, head: int) -> None:
        """Withdrawal requests in blocks not yet confirmed shrink headroom at once (see
        store.index.replace_provisional); everything else waits for its confirmations."""
        unconfirmed = self._hub.events(start, head) if self._confirmations and start <= head else []
        with self._db.transaction() as conn:
            index.replace_provisional(conn, unconfirmed)
        for event in unconfirmed:
            if isinstance(event, ev.WithdrawalRequested):
                self._bus.publish(Change("account", payer=event.payer, token=event.token))

    def _apply_range(self, start: int, end: int, expected_cursor: tuple[int, bytes] | None) -> int | None:
        """Applies blocks start..end unless the cursor moved meanwhile (another process indexed
        them): then returns None and writes nothing, so no event is ever applied twice."""
        _, end_hash, _ = self._hub.block(end)
        found = self._hub.events(start, end)
        token_infos = {
            event.token: self._hub.token_info(event.token)
            for event in found
            if isinstance(event, ev.TokenAllowed)
        }
        # The logs and the cursor's hash must come from one chain: a reorganisation between the
        # two reads would otherwise pair the old chain's events with the new chain's hash.
        if self._hub.block(end)[1] != end_hash or any(
            e.at.block_number == end and e.at.block_hash != end_hash for e in found
        ):
            raise Transient(f"the chain reorganised while blocks {start}..{end} were read; retrying")
        changes: list[Change] = []
        with self._db.transaction() as conn:
            if _read_cursor(conn, lock=True) != expected_cursor:
                return None
            for event in found:
                index.apply(conn, event)
                if isinstance(event, ev.TokenAllowed):
                    info = token_infos[event.token]
                    index.record_token(
                        conn, info.address, info.symbol, info.name, info.decimals, event.allowed
                    )
                changes.extend(_changes(event))
            _write_cursor(conn, end, end_hash, self._clock())
        self._last_hash = end_hash
        for change in changes:
            self._bus.publish(change)
        return len(found)


def _read_cursor(conn: Connection, lock: bool = False) -> tuple[int, bytes] | None:
    query = select(chain_cursor).where(chain_cursor.c.name == CURSOR)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else (row.block_number, row.block_hash)


def _write_cursor(conn: Connection, number: int, block_hash: bytes, now: int) -> None:
    values = {"block_number": number, "block_hash": block_hash, "updated_at": now}
    if _read_cursor(conn) is None:
        conn.execute(chain_cursor.insert().values(name=CURSOR, **values))
    else:
        conn.execute(chain_cursor.update().where(chain_cursor.c.name == CURSOR).values(**values))


def _write_head(conn: Connection, number: int, block_hash: bytes, timestamp: int, now: int) -> None:
    values = {
        "block_number": number,
        "block_hash": block_hash,
        "head_timestamp": timestamp,
        "updated_at": now,
    }
    if conn.execute(select(chain_cursor.c.name).where(chain_cursor.c.name == HEAD)).first() is None:
        conn.execute(chain_cursor.insert().values(name=HEAD, **values))
    else:
        conn.execute(chain_cursor.update().where(chain_cursor.c.name == HEAD).values(**values))


def _changes(event: ev.HubEvent) -> list[Change]:
    """What subscribers should re-read after this event."""
    match event:
        case ev.Deposited() | ev.WithdrawalRequested() | ev.WithdrawalCancelled() | ev.Withdrawn():
            return [Change("account", payer=event.payer, token=event.token)]
        case ev.SignerRevoked():
            return [Change("session_key", payer=event.payer)]
        case ev.VoucherClaimed() | ev.VoucherSkipped():
            return [
                Change("account", payer=event.payer, token=event.token),
                Change("receipt", payer=event.payer, token=event.token),
            ]
        case ev.Earned() | ev.EarningsWithdrawn():
            return [Change("earnings", payee=event.payee, token=event.token)]
        case _:
            return []

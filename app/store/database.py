"""The database: SQLite by default, PostgreSQL when DATABASE_URL says so.

Every write that spends a payer's money runs in `transaction()` and starts by
locking that payer's account row (`SELECT ... FOR UPDATE` on PostgreSQL). On
SQLite every write transaction begins with `BEGIN IMMEDIATE`, which takes the
single writer lock up front, so the same read-check-write is serialised there
too. Either way, two server processes can never both spend the same headroom.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.core.errors import Transient

log = logging.getLogger(__name__)

# Any constant will do: it only has to be the same for every process migrating this database.
MIGRATION_LOCK_KEY = 0x6D6963726F  # "micro"


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3 here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'micropayments.db'}"


class Database:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.engine: Engine
        self._lock_path: Path | None = None
        self._thread_lock = threading.Lock()
        self._lock_file: IO[bytes] | None = None
        if self.url.startswith("sqlite"):
            path = self.url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._lock_path = Path(path + ".writer-lock")
            self.engine = create_engine(self.url, connect_args={"check_same_thread": False, "timeout": 30})
            _serialise_sqlite_writers(self.engine)
        else:
            self.engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction, committed when the block ends without an exception (durably: the
        caller may acknowledge what it wrote as soon as this returns)."""
        try:
            with self._writer_lock(), self.engine.begin() as connection:
                yield connection
        except OperationalError as error:
            raise Transient(f"the database is unavailable or busy: {error.orig}") from error

    @contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """SQLite allows one writer at a time. Left to itself, a waiting writer polls with sleeps
        of up to 100 ms (its busy handler), which under load costs far more than the writes; so
        writers queue on a lock file instead, and the kernel wakes the next one at once."""
        if self._lock_path is None:
            yield
            return
        with self._thread_lock:
            if self._lock_file is None:
                self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115 (kept for the process)
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work (no lock taken on SQLite)."""
        try:
            with self.engine.connect() as connection:
                # Reads take no writer lock (WAL lets them run beside the one writer).
                yield connection.execution_options(read_only=True)
        except OperationalError as error:
            raise Transient(f"the database is unavailable: {error.orig}") from error

    def migrate(self) -> None:
        """Brings the schema to the latest migration; safe to run from several processes at once."""
        config = Config()
        config.set_main_option("script_location", str(resources.files("app.store") / "migrations"))
        with self.engine.begin() as connection:
            if self.is_postgres:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _serialise_sqlite_writers(engine: Engine) -> None:
    """pysqlite's own transaction handling begins lazily and deferred; take it over so that
    every transaction is BEGIN IMMEDIATE (see the module docstring), and make commits durable."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # The default 2 MB page cache makes index look-ups go to disk once the store holds
        # millions of receipts; 64 MB (and memory-mapped reads) keeps the hot pages in memory.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get("read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_unique_violation(error: DBAPIError) -> bool:
    """True when the database refused a row because of a unique constraint."""
    message = str(error.orig).lower()
    return "unique" in message or "duplicate key" in message

"""Exactly one server process indexes and settles at a time.

With PostgreSQL the leader holds a session-level advisory lock on its own connection: if the
process dies, PostgreSQL closes the connection and releases the lock, and another process
takes over at its next attempt (every few seconds). With SQLite, whose server processes share
one machine, an exclusive lock on a file in the data directory does the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import IO, Any, Protocol

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x6D6963726F01


class Leadership(Protocol):
    def acquire(self) -> bool:
        """True while this process is (or just became) the leader."""
        ...

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: Any = None
        self._leader = False

    def acquire(self) -> bool:
        import psycopg

        try:
            if self._connection is None or self._connection.closed:
                self._leader = False
                self._connection = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
            if self._leader:
                self._connection.execute("SELECT 1")  # still connected, so still holding the lock
            else:
                row = self._connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)
                ).fetchone()
                self._leader = bool(row and row[0])
        except psycopg.Error:
            log.warning("lost the leadership connection to PostgreSQL", exc_info=True)
            self._leader = False
            self._close()
        return self._leader

    def release(self) -> None:
        self._leader = False
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None


class FileLeadership:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "ab")  # noqa: SIM115 (held open while leading)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None

"""A watchdog for a server process whose event loop stops turning.

A request that holds the event loop (a pure-Python loop over a hostile document, a blocking
call) cannot be cancelled: no timeout fires, /health stops answering, and SIGTERM only sets a
flag that the loop never reads. The loop here beats every `interval`; a thread checks the
beats, and when none came for `stall` seconds it logs every thread's stack and ends the process
with EXIT_STALLED. With WORKERS > 1, uvicorn's process manager starts a new worker in its place;
with one, the supervisor that runs the server (systemd, a container runtime) restarts it.
Committed work is in the database, so nothing acknowledged is lost.

The thread also re-applies app/interpreter.py's settings every second, in case a library
imported after start-up changed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from app import interpreter

log = logging.getLogger(__name__)

EXIT_STALLED = 70  # EX_SOFTWARE


class Watchdog:
    def __init__(
        self,
        stall: float,
        interval: float = 0.25,
        exit: Callable[[int], object] = os._exit,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stall = stall
        self.interval = interval
        self._exit = exit
        self._clock = clock
        self._beat = clock()
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts beating on the running loop and watching from a thread."""
        self._beat = self._clock()
        self._task = asyncio.get_running_loop().create_task(self._heartbeat())
        self._thread = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._thread is not None:
            self._thread.join()

    async def _heartbeat(self) -> None:
        while True:
            self._beat = self._clock()
            await asyncio.sleep(self.interval)

    def _watch(self) -> None:
        last_check = 0.0
        while not self._stop.wait(self.interval):
            now = self._clock()
            if now - last_check >= 1:
                interpreter.enforce()
                last_check = now
            stalled = now - self._beat
            if stalled > self.stall:
                log.critical(
                    "the event loop has not run for %.1f s (WATCHDOG_MS): exiting so that this "
                    "worker is replaced; the stacks of every thread follow",
                    stalled,
                )
                with contextlib.suppress(Exception):
                    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
                self._exit(EXIT_STALLED)
                return

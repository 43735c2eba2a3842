"""Group commit: pays that arrive together share one database transaction.

Every caller waits until the transaction holding its work has committed (or failed), so no
answer ever goes out before its receipt is durable; under load, one commit (one fsync) then
serves many pays instead of one each. With a single pay waiting, it runs alone at once: no
added latency when the server is quiet.

A caller on an event loop awaits `submit_async`: the commit thread hands the outcome back to
the loop (`call_soon_threadsafe`), so a waiting pay holds no thread. `submit` blocks a thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")
Outcome = TypeVar("Outcome")
_T = TypeVar("_T")


class GroupCommitter(Generic[Job, Outcome]):
    def __init__(self, run: Callable[[Sequence[Job]], Sequence[Outcome]], max_group: int = 256) -> None:
        self._run = run
        self._max_group = max_group
        self._queue: queue.SimpleQueue[tuple[Job, _Waiter[Outcome]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Outcome:
        """Runs `job` in the next group; returns once that group's transaction has committed."""
        future: Future[Outcome] = Future()
        self._queue.put((job, _ThreadWaiter(future)))
        return future.result()

    async def submit_async(self, job: Job) -> Outcome:
        """`submit` for a coroutine: no thread waits while the group commits."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.put((job, _LoopWaiter(loop, future)))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this group, then stop
                    break
                group.append(item)
            try:
                outcomes = self._run([job for job, _ in group])
            except BaseException as error:  # every caller of the group gets the failure
                for _, waiter in group:
                    waiter.fail(error)
                continue
            for (_, waiter), outcome in zip(group, outcomes, strict=True):
                waiter.resolve(outcome)


class _Waiter(Generic[Outcome]):
    def resolve(self, outcome: Outcome) -> None: ...

    def fail(self, error: BaseException) -> None: ...


class _ThreadWaiter(_Waiter[Outcome]):
    def __init__(self, future: Future[Outcome]) -> None:
        self._future = future

    def resolve(self, outcome: Outcome) -> None:
        self._future.set_result(outcome)

    def fail(self, error: BaseException) -> None:
        self._future.set_exception(error)


class _LoopWaiter(_Waiter[Outcome]):
    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Outcome]) -> None:
        self._loop, self._future = loop, future

    def resolve(self, outcome: Outcome) -> None:
        self._call(self._set_result, outcome)

    def fail(self, error: BaseException) -> None:
        self._call(self._set_exception, error)

    def _call(self, fn: Callable[[_T], None], arg: _T) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, arg)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            log.debug("group commit: the caller's event loop has closed")

    def _set_result(self, outcome: Outcome) -> None:
        if not self._future.done():  # a caller that gave up (timeout, disconnect) was cancelled
            self._future.set_result(outcome)

    def _set_exception(self, error: BaseException) -> None:
        if not self._future.done():
            self._future.set_exception(error)

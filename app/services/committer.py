"""Group commit: pays that arrive together share one database transaction.

Every caller blocks until the transaction holding its work has committed (or failed), so no
answer ever goes out before its receipt is durable; under load, one commit (one fsync) then
serves many pays instead of one each. With a single pay waiting, it runs alone at once: no
added latency when the server is quiet.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")
Outcome = TypeVar("Outcome")


class GroupCommitter(Generic[Job, Outcome]):
    def __init__(self, run: Callable[[Sequence[Job]], Sequence[Outcome]], max_group: int = 256) -> None:
        self._run = run
        self._max_group = max_group
        self._queue: queue.SimpleQueue[tuple[Job, Future[Outcome]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Outcome:
        """Runs `job` in the next group; returns once that group's transaction has committed."""
        future: Future[Outcome] = Future()
        self._queue.put((job, future))
        return future.result()

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
                for _, future in group:
                    future.set_exception(error)
                continue
            for (_, future), outcome in zip(group, outcomes, strict=True):
                future.set_result(outcome)

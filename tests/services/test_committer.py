import asyncio
import threading
from collections.abc import Sequence

import pytest

from app.services.committer import GroupCommitter


def test_a_coroutine_gets_its_outcome_from_the_commit_thread() -> None:
    committer: GroupCommitter[int, int] = GroupCommitter(lambda jobs: [job * 2 for job in jobs])

    async def main() -> list[int]:
        return list(await asyncio.gather(*(committer.submit_async(n) for n in range(20))))

    try:
        assert asyncio.run(main()) == [n * 2 for n in range(20)]
    finally:
        committer.close()


def test_a_failed_group_raises_in_every_waiting_coroutine() -> None:
    def fail(jobs: Sequence[int]) -> list[int]:
        raise RuntimeError("disk full")

    committer: GroupCommitter[int, int] = GroupCommitter(fail)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="disk full"):
            await committer.submit_async(1)

    try:
        asyncio.run(main())
    finally:
        committer.close()


def test_a_caller_that_gave_up_does_not_stop_the_commit_thread() -> None:
    release = threading.Event()

    def slow(jobs: Sequence[int]) -> list[int]:
        release.wait(5)
        return list(jobs)

    committer: GroupCommitter[int, int] = GroupCommitter(slow)

    async def main() -> int:
        waiting = asyncio.create_task(committer.submit_async(1))
        await asyncio.sleep(0.01)
        waiting.cancel()
        release.set()
        return await committer.submit_async(2)

    try:
        assert asyncio.run(main()) == 2
        assert committer.submit(3) == 3
    finally:
        committer.close()

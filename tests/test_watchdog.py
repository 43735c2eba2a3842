"""The watchdog ends a process whose event loop has stalled, and leaves a turning one alone."""

from __future__ import annotations

import asyncio
import threading
import time

from app.watchdog import EXIT_STALLED, Watchdog


def test_a_stalled_event_loop_ends_the_process_with_exit_stalled() -> None:
    exits: list[int] = []
    exited = threading.Event()

    def fake_exit(code: int) -> None:
        exits.append(code)
        exited.set()

    async def stall() -> None:
        watchdog = Watchdog(stall=0.2, interval=0.02, exit=fake_exit)
        watchdog.start()
        await asyncio.sleep(0.05)
        time.sleep(0.5)  # holds the loop, as a hostile request would
        await watchdog.stop()

    asyncio.run(stall())
    assert exited.wait(1)
    assert exits == [EXIT_STALLED]


def test_a_turning_event_loop_is_left_alone() -> None:
    exits: list[int] = []

    async def turn() -> None:
        watchdog = Watchdog(stall=0.2, interval=0.02, exit=exits.append)
        watchdog.start()
        for _ in range(20):
            await asyncio.sleep(0.02)
        await watchdog.stop()

    asyncio.run(turn())
    assert exits == []

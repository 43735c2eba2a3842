"""Admission: past MAX_IN_FLIGHT a request is refused at once, past its deadline it is answered
with an error, both with Retry-After; /health is never held back."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.api.admission import Admission


class Blocked:
    """An ASGI app whose requests wait until `release` is set, then answer 200."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def request(app: Any, path: str = "/graphql") -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body (None if empty) of one request to `app`."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "headers": []}, receive, send)
    start, body = sent[0], sent[1]["body"]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(body) if body else None


def test_a_request_beyond_the_in_flight_limit_is_refused_at_once_with_retry_after() -> None:
    async def scenario() -> None:
        inner = Blocked()
        admission = Admission(inner, max_in_flight=2, timeout=10)
        first = [asyncio.create_task(request(admission)) for _ in range(2)]
        await asyncio.sleep(0.01)
        status, headers, body = await asyncio.wait_for(request(admission), 1)
        assert status == 503
        assert headers["retry-after"] == "1"
        assert body["errors"][0]["extensions"]["code"] == "OVERLOADED"
        assert "MAX_IN_FLIGHT" in body["errors"][0]["message"]
        assert (inner.entered, admission.shed) == (2, 1)

        inner.release.set()
        assert [status for status, _, _ in await asyncio.gather(*first)] == [200, 200]
        assert (await request(admission))[0] == 200  # served again once the load is gone
        assert admission.in_flight == 0

    asyncio.run(scenario())


def test_a_request_past_its_deadline_is_answered_with_deadline_exceeded() -> None:
    async def scenario() -> None:
        admission = Admission(Blocked(), max_in_flight=10, timeout=0.05)
        status, headers, body = await asyncio.wait_for(request(admission), 1)
        assert status == 503
        assert headers["retry-after"] == "1"
        assert body["errors"][0]["extensions"]["code"] == "DEADLINE_EXCEEDED"
        assert "REQUEST_TIMEOUT_MS" in body["errors"][0]["message"]
        assert (admission.in_flight, admission.expired) == (0, 1)

    asyncio.run(scenario())


def test_health_is_neither_counted_nor_held_to_the_deadline() -> None:
    async def scenario() -> None:
        inner = Blocked()
        admission = Admission(inner, max_in_flight=1, timeout=0.01)
        health = asyncio.create_task(request(admission, "/health"))
        await asyncio.sleep(0.05)
        assert not health.done()  # no deadline
        assert admission.in_flight == 0
        inner.release.set()
        assert (await health)[0] == 200

    asyncio.run(scenario())


def test_a_timeout_raised_by_the_app_itself_is_not_taken_for_the_deadline() -> None:
    async def timing_out(scope: Scope, receive: Receive, send: Send) -> None:
        raise TimeoutError("the app's own")

    async def scenario() -> None:
        admission = Admission(timing_out, max_in_flight=1, timeout=10)
        with pytest.raises(TimeoutError, match="the app's own"):
            await request(admission)
        assert admission.in_flight == 0

    asyncio.run(scenario())


def test_a_request_beyond_the_in_flight_limit_waits_in_line_while_there_is_room() -> None:
    async def scenario() -> None:
        inner = Blocked()
        admission = Admission(inner, max_in_flight=1, timeout=10, max_waiting=2)
        requests = [asyncio.create_task(request(admission)) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert (inner.entered, admission.in_flight, admission.waiting) == (1, 1, 2)
        status, _, body = await asyncio.wait_for(request(admission), 1)  # the line is full
        assert (status, body["errors"][0]["extensions"]["code"]) == (503, "OVERLOADED")
        assert "MAX_QUEUED" in body["errors"][0]["message"]

        inner.release.set()
        assert [status for status, _, _ in await asyncio.gather(*requests)] == [200, 200, 200]
        assert (inner.entered, admission.in_flight, admission.waiting) == (3, 0, 0)

    asyncio.run(scenario())


def test_a_request_whose_deadline_passes_in_line_leaves_it() -> None:
    async def scenario() -> None:
        inner = Blocked()
        admission = Admission(inner, max_in_flight=1, timeout=0.05, max_waiting=1)
        first = asyncio.create_task(request(admission))
        await asyncio.sleep(0.01)
        status, _, body = await asyncio.wait_for(request(admission), 1)
        assert (status, body["errors"][0]["extensions"]["code"]) == (503, "DEADLINE_EXCEEDED")
        assert (await first)[0] == 503  # the one served timed out too
        assert (admission.in_flight, admission.waiting) == (0, 0)  # no slot leaked

    asyncio.run(scenario())


def test_a_request_that_waits_in_line_too_long_is_refused_as_overloaded() -> None:
    async def scenario() -> None:
        inner = Blocked()
        admission = Admission(inner, max_in_flight=1, timeout=10, max_waiting=5, max_wait=0.05)
        first = asyncio.create_task(request(admission))
        await asyncio.sleep(0.01)
        status, headers, body = await asyncio.wait_for(request(admission), 1)
        assert (status, body["errors"][0]["extensions"]["code"]) == (503, "OVERLOADED")
        assert headers["retry-after"] == "1"
        assert (admission.in_flight, admission.waiting, admission.shed) == (1, 0, 1)
        inner.release.set()
        assert (await first)[0] == 200

    asyncio.run(scenario())


def test_a_slot_freed_while_a_cancelled_waiter_is_still_unwinding_is_not_lost() -> None:
    async def scenario() -> None:
        inner = Blocked()
        admission = Admission(inner, max_in_flight=1, timeout=10, max_waiting=5)
        first = asyncio.create_task(request(admission))
        await asyncio.sleep(0.01)
        waiter = asyncio.create_task(request(admission))
        await asyncio.sleep(0.01)
        inner.release.set()  # the first finishes at its next step, and frees its slot...
        waiter.cancel()  # ...after the waiter's turn was cancelled, before the waiter unwinds
        assert (await first)[0] == 200
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (admission.in_flight, admission.waiting) == (0, 0)
        assert (await request(admission))[0] == 200

    asyncio.run(scenario())

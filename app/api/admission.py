"""Admission of HTTP GraphQL requests: how many at once, and for how long.

An ASGI middleware in front of /graphql over HTTP:

- At most `max_in_flight` requests are served at once, and at most `max_waiting` more wait
  for a slot, first come first served (a burst of a few dozen is served, not refused); one
  more is refused at once with 503 OVERLOADED and `Retry-After`, instead of queueing without
  bound: under twice the load the process can serve, what it serves keeps its latency and
  the rest is told to come back.
- Each request is answered within `timeout` seconds, its body read included; past that it
  gets 503 DEADLINE_EXCEEDED and `Retry-After`. A service call already running in a thread
  finishes there (a pay may still be accepted: paying the same voucher again returns its
  receipt), but nothing waits for it.

Neither applies to /health, so that a loaded server still says how it is. Work that holds
the event loop itself cannot be interrupted here: app/watchdog.py ends such a process.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Admission:
    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        timeout: float,
        max_waiting: int = 0,
        max_wait: float = 1.0,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.timeout = timeout
        self.path = path
        self.in_flight = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self.shed = 0  # requests refused as OVERLOADED, since start
        self.expired = 0  # requests refused as DEADLINE_EXCEEDED, since start

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight and len(self._waiting) >= self.max_waiting:
            await self._shed(send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        deadline = asyncio.timeout(self.timeout)
        try:
            async with deadline:
                if not await self._admit():
                    await self._shed(send)
                    return
                try:
                    await self.app(scope, receive, tracked)
                finally:
                    self._release()
        except TimeoutError:
            if not deadline.expired():
                raise
            self.expired += 1
            if not started:  # else the server closes the connection mid-response
                message = f"not answered within {self.timeout:g} s (REQUEST_TIMEOUT_MS): retry later"
                await _refuse(send, "DEADLINE_EXCEEDED", message, retry_after=math.ceil(self.timeout))

    async def _shed(self, send: Send) -> None:
        self.shed += 1
        message = (
            f"the server is serving {self.max_in_flight} requests (MAX_IN_FLIGHT) and "
            f"{self.max_waiting} more are waiting (MAX_QUEUED): retry in 1 s"
        )
        await _refuse(send, "OVERLOADED", message, retry_after=1)

    async def _admit(self) -> bool:
        """Takes a slot, waiting in line up to max_wait for one if all are taken; False if none came."""
        if self.in_flight < self.max_in_flight and not self._waiting:
            self.in_flight += 1
            return True
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            async with asyncio.timeout(self.max_wait) as waited:
                await turn  # _release handed its slot over: in_flight counts it already
        except BaseException as error:
            if turn.done() and not turn.cancelled():
                self._release()  # handed a slot just as the wait was abandoned: pass it on
            elif turn in self._waiting:  # else _release already dropped it, cancelled
                self._waiting.remove(turn)
            if isinstance(error, TimeoutError) and waited.expired():
                return False
            raise
        return True

    def _release(self) -> None:
        """Hands the slot to the first in line, or frees it."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.in_flight -= 1


async def _refuse(send: Send, code: str, message: str, retry_after: int) -> None:
    payload = {"errors": [{"message": message, "extensions": {"code": code}}]}
    body = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""A tiny ASGI app for tests of app/watchdog.py in a real uvicorn process: /block holds the
event loop (as a hostile request once did), /ping answers with the worker's pid. Run with
`uvicorn --factory tests.e2e.stuck_app:create`; STALL_MS sets the watchdog's limit."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.watchdog import Watchdog


def create() -> Starlette:
    watchdog = Watchdog(stall=int(os.environ.get("STALL_MS", "1000")) / 1000)

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"pid": os.getpid()})

    async def block(request: Request) -> JSONResponse:
        time.sleep(60)  # holds the loop: no timeout, no signal handler can end this
        return JSONResponse({})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        watchdog.start()
        try:
            yield
        finally:
            await watchdog.stop()

    return Starlette(routes=[Route("/ping", ping), Route("/block", block)], lifespan=lifespan)

"""The ASGI application of one server process, with its background work (uvicorn's factory).

`python -m app serve` runs it; with WORKERS > 1, uvicorn starts that many processes, each
with its own services. They share the database, which is what keeps them consistent.

Each process first restores the interpreter settings an imported library may have changed
(app/interpreter.py), and runs a watchdog (app/watchdog.py) that ends it if its event loop
stalls for WATCHDOG_MS, so that a stuck worker is replaced and SIGTERM takes effect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount

from app import config, interpreter
from app.api.app import create_app
from app.examples import paid_api
from app.services import runtime
from app.watchdog import Watchdog


def create() -> Starlette:
    settings = config.load()
    services = runtime.build(settings)
    interpreter.enforce()  # after every import of ours and our libraries'
    worker = services.worker()
    watchdog = Watchdog(stall=settings.watchdog_stall)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        watchdog.start()
        worker.start()
        try:
            yield
        finally:
            await watchdog.stop()  # stopping the worker may block the loop a while
            worker.stop()
            services.close()

    example = [Mount("/example", app=paid_api.create(services))] if settings.example_paid_api else []
    return Starlette(routes=[*example, Mount("/", app=create_app(services, worker))], lifespan=lifespan)

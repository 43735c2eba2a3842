"""The ASGI application of one server process, with its background work (uvicorn's factory).

`python -m app serve` runs it; with WORKERS > 1, uvicorn starts that many processes, each
with its own services. They share the database, which is what keeps them consistent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount

from app import config
from app.api.app import create_app
from app.examples import paid_api
from app.services import runtime


def create() -> Starlette:
    settings = config.load()
    services = runtime.build(settings)
    worker = services.worker()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()
            services.close()

    example = [Mount("/example", app=paid_api.create(services))] if settings.example_paid_api else []
    return Starlette(routes=[*example, Mount("/", app=create_app(services, worker))], lifespan=lifespan)

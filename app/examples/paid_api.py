"""An example paid API: a free route, a joke paid per call, an article bought once, an hour's pass.

Mounted at /example beside GraphQL (EXAMPLE_PAID_API=1 with `python -m app serve`), or on its own
with the same configuration (`python -m app.examples.paid_api`). Its creator lists the resources
first (`seed`): the paywall takes each route's payee, token and price from the catalog.

    curl -i localhost:8000/example/joke -H 'X-PAYER: 0x...'   # 402 with the voucher to sign
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.core.access import AccessModel
from app.core.types import Address
from app.paywall import Paywall
from app.services.catalog import Catalog
from app.services.runtime import Services

JOKE, ARTICLE, PASS = "example/joke", "example/article", "example/ad-free-hour"
PRICES = {"/joke": JOKE, "/article": ARTICLE, "/ad-free": PASS}


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "free for everyone"})


async def joke(request: Request) -> JSONResponse:
    return JSONResponse({"joke": "A stablecoin walks into a bar. The price does not move."})


async def article(request: Request) -> JSONResponse:
    return JSONResponse({"title": "Lanes", "body": "One voucher per lane pays every creator on it."})


async def ad_free(request: Request) -> JSONResponse:
    return JSONResponse({"ads": []})


def create(services: Services) -> Starlette:
    """The example's routes behind the paywall, over `services` (which the caller owns)."""
    return Starlette(
        routes=[
            Route("/hello", hello),
            Route("/joke", joke),
            Route("/article", article),
            Route("/ad-free", ad_free),
        ],
        middleware=[Middleware(Paywall, services=services, prices=PRICES)],
    )


def seed(catalog: Catalog, creator: Address, token: Address, price: int) -> None:
    """Lists the example's resources for `creator`: a joke per call, an article, an hour's pass."""
    catalog.save(creator, JOKE, token, price, "A joke, per call")
    catalog.save(creator, ARTICLE, token, price, "An article, bought once", access_model=AccessModel.PURCHASE)
    catalog.save(
        creator,
        PASS,
        token,
        price,
        "An hour without ads",
        access_model=AccessModel.TIME_PASS,
        pass_seconds=3600,
    )


def main() -> None:  # pragma: no cover (a process of its own)
    import uvicorn

    from app import config
    from app.services import runtime

    settings = config.load()
    services = runtime.build(settings)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.close()

    app = create(services)
    app.router.lifespan_context = lifespan
    uvicorn.run(app, host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()

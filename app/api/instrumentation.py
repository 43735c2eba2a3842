"""The API's side of app.metrics: /metrics, request latency, and what pay and payBatch answered.

Pays are counted by the pay and payBatch resolvers from what they answer (PaymentAccepted, or a
refusal with its `code`), so the counts hold whatever the payment service does inside. Not by a
schema extension's `resolve` hook: that would make strawberry wrap every field of every response.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app import metrics
from app.core.errors import Transient
from app.services.runtime import Services

PAY_FIELDS = frozenset({"pay", "payBatch"})
# Route labels: a fixed few, so that a scan of random paths cannot grow the label set.
_ROUTES = ("/graphql", "/graphiql/", "/health", "/metrics", "/demo")


def count_pay(result: object) -> None:
    """One pay result: PaymentAccepted, or a refusal type (which has a `code`)."""
    code = getattr(result, "code", None)
    if isinstance(code, str):
        metrics.pays_refused.labels(code).inc()
    elif result is not None:
        metrics.pays_accepted.inc()


class RequestTimer:
    """ASGI middleware: the latency of every HTTP request, by route and method."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.http_seconds.labels(route_label(scope["path"]), scope["method"]).observe(
                time.perf_counter() - started
            )


def route_label(path: str) -> str:
    for route in _ROUTES:
        if path == route.rstrip("/") or path.startswith(route.rstrip("/") + "/"):
            return route.rstrip("/")
    return "other"


def routes(services: Services) -> list[BaseRoute]:
    """/metrics, in Prometheus' text format; the chain gauges are read when scraped."""

    async def scrape(request: Request) -> Response:
        await run_in_threadpool(_read_chain, services)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", scrape, methods=["GET"])]


def _read_chain(services: Services) -> None:
    try:
        head = services.hub.head()
        indexed = services.accounts.indexed_block()
    except Transient:
        return  # the gauges keep their last values; /health says what is unavailable
    metrics.head_block.set(head)
    if indexed is not None:
        metrics.indexed_block.set(indexed.number)
        metrics.indexer_lag.set(max(head - indexed.number, 0))

"""The Starlette application: /graphql over HTTP and WebSocket (graphql-transport-ws), GraphiQL's
assets at /graphiql, /health, Prometheus' /metrics, and the browser demo at /demo."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from app.api import demo, graphiql, instrumentation, json_body
from app.api.admission import Admission
from app.api.context import Context, build_context, connection_init_token
from app.api.limits import BodySizeLimit, TokenBuckets, schema_extensions
from app.api.schema import Schema, build_schema
from app.core.errors import Transient
from app.services.background import Worker
from app.services.runtime import Services

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, schema: Schema, services: Services) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if services.settings.graphiql else None,
            # Queries may use GET; strawberry refuses mutations over GET whatever this says.
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            # A socket that has not sent connection_init in time is closed with 4408.
            connection_init_wait_timeout=timedelta(seconds=services.settings.ws_init_timeout),
        )
        # One operation more on a socket is answered with an `error` message for its id.
        self.max_subscriptions_per_connection = services.settings.max_subscriptions
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:  # as JSON, like every other error of this API
            code = _HTTP_CODES.get(error.status_code, "BAD_REQUEST")
            response = _error(error.status_code, error.reason, code)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql.PAGE)  # strawberry's page, with its assets served locally

    def decode_json(self, data: str | bytes) -> object:
        return json_body.decode(data)  # nesting bounded; also each WebSocket message

    def parse_json(self, data: str | bytes) -> Any:
        # An HTTP body or query parameter (WebSocket messages go through decode_json). strawberry
        # answers 400 only to a JSONDecodeError and expects an object (or a batch list): undecodable
        # bytes or any other JSON value (`false`, `1`, `null`) would be a 500.
        try:
            decoded = json_body.decode(data)
        except json_body.TooDeep as error:
            raise HTTPException(400, error.msg) from error
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body and its JSON parameters must be JSON objects")
        return decoded

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        return await build_context(self.services, request)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = connection_init_token(context.connection_params)
        if token is not None:
            await context.authenticate(token)
            if context.session is None:
                raise ConnectionRejectionError({"message": "the session token is unknown or expired"})
        return await super().on_ws_connect(context)


def create_app(services: Services, worker: Worker | None = None) -> Starlette:
    """The ASGI app over `services`, which the caller owns (and closes); `worker` is the
    process's background work, reported by /health."""
    settings = services.settings
    extensions = schema_extensions(settings, TokenBuckets(settings.rate_limit_per_minute))
    schema = build_schema(extensions)
    graphql = GraphQLApp(schema, services)

    async def health(request: Request) -> JSONResponse:
        return await _health(services, worker)

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/health", health, methods=["GET"]),
            *(instrumentation.routes(services) if settings.metrics else []),
            *(graphiql.routes() if settings.graphiql else []),
            *demo.routes(),
        ],
        middleware=[
            Middleware(instrumentation.RequestTimer),
            Middleware(
                Admission,
                max_in_flight=settings.max_in_flight,
                max_waiting=settings.max_queued,
                max_wait=settings.max_queue_wait,
                timeout=settings.request_timeout,
            ),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
    )


async def _health(services: Services, worker: Worker | None) -> JSONResponse:
    """200 when the node and the database answer and indexing has not stopped, else 503;
    either way what is known, including whether this process is the leader (indexing and
    settling) and the last background error."""
    head: int | None
    try:
        head = await run_in_threadpool(services.hub.head)
    except Transient:
        head = None
    database = True
    try:
        indexed = await run_in_threadpool(services.accounts.indexed_block)
    except Transient:
        database, indexed = False, None
    stopped = worker is not None and worker.stopped
    ok = head is not None and database and not stopped
    return JSONResponse(
        {
            "status": "ok" if ok else "degraded",
            "chainId": services.domain.chain_id,
            "hub": services.domain.hub,
            "indexedBlock": None if indexed is None else indexed.number,
            "headBlock": head,
            "database": "ok" if database else "unavailable",
            "node": "ok" if head is not None else "unavailable",
            "leader": None if worker is None else worker.leader,
            "backgroundError": None if worker is None else worker.error,
            "indexing": "stopped" if stopped else "running",
        },
        status_code=200 if ok else 503,
    )


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)

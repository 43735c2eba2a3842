"""Per-request context: the services, who is signed in, and where the request came from.

An HTTP request is authenticated by its `Authorization: Bearer <token>` header;
a WebSocket by that header on the handshake or, as browsers cannot set headers
there, by `{"authorization": "Bearer <token>"}` in its connection_init payload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import strawberry
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from app.core.errors import Forbidden, Unauthenticated
from app.core.types import Address
from app.services.runtime import Services

P = ParamSpec("P")
R = TypeVar("R")

MAX_TOKEN_LENGTH = 256  # session tokens are 43 characters; a longer one is not ours


@dataclass
class Context:
    services: Services
    connection: HTTPConnection
    client_ip: str
    session_token: str | None = None
    session: Address | None = None
    # Set by strawberry from the graphql-transport-ws connection_init payload.
    connection_params: dict[str, object] | None = field(default=None)
    # DataLoaders of this request (or WebSocket connection), by name: see app/api/profiles.py.
    loaders: dict[str, Any] = field(default_factory=dict)

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Runs a (synchronous, database- or node-bound) service call off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    async def authenticate(self, token: str | None) -> None:
        """Looks up the session of a bearer token (None: anonymous)."""
        self.session_token = token
        self.session = None if token is None else await self.run(self.services.auth.session, token)

    def signed_in(self) -> Address:
        """The session's address, or Unauthenticated."""
        if self.session is None:
            if self.session_token is not None:
                raise Unauthenticated("the session token is unknown or expired: sign in again")
            raise Unauthenticated("sign in first (signInMessage, then signIn) and send the session token")
        return self.session

    def require_owner(self, *owners: Address | None) -> Address:
        """The session's address if it is one of `owners`, else Forbidden (or Unauthenticated)."""
        address = self.signed_in()
        if address not in owners:
            raise Forbidden(f"signed in as {address}, which does not own this data", address=address)
        return address


Info = strawberry.Info[Context, None]


def bearer_token(value: object) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None if absent or not a bearer token."""
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token


async def build_context(services: Services, connection: HTTPConnection) -> Context:
    client = connection.client
    context = Context(
        services=services, connection=connection, client_ip=client.host if client else "unknown"
    )
    await context.authenticate(bearer_token(connection.headers.get("authorization")))
    return context


def connection_init_token(payload: Mapping[str, object] | None) -> str | None:
    """The bearer token in a connection_init payload (`authorization` or `Authorization`)."""
    if not payload:
        return None
    return bearer_token(payload.get("authorization", payload.get("Authorization")))

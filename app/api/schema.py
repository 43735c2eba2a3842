"""The schema: Query, Mutation and Subscription with the custom scalars and refusal handlers.

`schema` is built at import time without services (they come with each
request's context) and without limits: it is what `export_sdl` prints. A
served schema is the same types with the extensions of its settings
(`build_schema`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.api.limits import is_unexpected
from app.api.mutations import Mutation
from app.api.queries import Query
from app.api.results import REFUSAL_HANDLERS
from app.api.scalars import SCALARS
from app.api.subscriptions import Subscription

log = logging.getLogger(__name__)


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Refusals and bad requests are the client's business; the masking extension logs the rest.
        for error in errors:
            if is_unexpected(error):
                log.debug("error to be masked: %s", error.message)


def build_schema(extensions: Iterable[Callable[[], SchemaExtension]] = ()) -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=list(extensions),
        config=StrawberryConfig(scalar_map=SCALARS),
        exception_handlers=REFUSAL_HANDLERS,
    )


schema = build_schema()

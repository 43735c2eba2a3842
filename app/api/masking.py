"""What errors may show: refusals, transient failures and errors in the request itself are
shown with an `extensions.code`; anything else is masked ("Unexpected error.") and logged.

    code                        when
    <Refusal.code>              a refusal (INVALID_INPUT, FORBIDDEN, RATE_LIMITED...), with `fields`
    UNAVAILABLE                 a Transient failure (node or database); the message is generic
    GRAPHQL_PARSE_FAILED        the document does not parse (or is over the token limit, nests
                                brackets past 64, or has an integer over 78 digits: cost.py)
    GRAPHQL_VALIDATION_FAILED   the document does not validate (or is over a depth or alias limit)
    QUERY_TOO_COMPLEX           over MAX_QUERY_COST fields with fragments expanded, or one field
                                repeated over 20 times in a selection set (cost.py)
    TOO_MANY_MUTATIONS          more top-level mutation fields than MAX_MUTATIONS
    INTERNAL_ERROR              anything else, masked
    BAD_REQUEST                 HTTP 400: not a GraphQL request, JSON nested past 64 levels
                                (json_body.py), or a mutation over GET (app.py)
    PAYLOAD_TOO_LARGE           HTTP 413: the body is over MAX_BODY_BYTES (limits.BodySizeLimit)
    OVERLOADED                  HTTP 503 + Retry-After: MAX_IN_FLIGHT + MAX_QUEUED requests already,
                                or none done within MAX_QUEUE_WAIT_MS (admission.py)
    DEADLINE_EXCEEDED           HTTP 503 + Retry-After: not answered in REQUEST_TIMEOUT_MS
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import MaskErrors, SchemaExtension

from app.api.errors import fields_json
from app.core.errors import Refusal, Transient

log = logging.getLogger(__name__)

UNEXPECTED = "Unexpected error."
UNAVAILABLE = "A dependency of the server (chain node or database) is unavailable: retry later."


def cause(error: GraphQLError) -> Exception | None:
    """The exception behind an error, through graphql-core's wrapping (a variable's invalid value
    is a GraphQLError around the GraphQLError around what the scalar raised); None if there is none."""
    original = error.original_error
    while isinstance(original, GraphQLError):
        original = original.original_error
    return original


def is_unexpected(error: GraphQLError) -> bool:
    """True for errors to mask: raised by our code, and neither a refusal nor a transient failure."""
    original = cause(error)
    return original is not None and not isinstance(original, Refusal | Transient)


class Masking(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=UNEXPECTED)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        log.error("unexpected error at %s", error.path, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_ERROR"}
        return masked


def with_code(error: GraphQLError) -> GraphQLError:
    """The error with an `extensions.code` (unless it has one or will be masked)."""
    if error.extensions and "code" in error.extensions:
        return error
    original = cause(error)
    if isinstance(original, Refusal):
        error.extensions = {"code": original.code, **_fields(original)}
    elif isinstance(original, Transient):
        log.warning("transient failure at %s: %s", error.path, original)
        return GraphQLError(
            UNAVAILABLE,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            original,
            {"code": "UNAVAILABLE"},
        )
    elif isinstance(error, GraphQLSyntaxError):
        error.extensions = {"code": "GRAPHQL_PARSE_FAILED"}
    elif original is None and error.path is None:  # the request, not the server
        error.extensions = {"code": "GRAPHQL_VALIDATION_FAILED"}
    return error


def _fields(refusal: Refusal) -> dict[str, Any]:
    return {"fields": fields_json(refusal.fields)} if refusal.fields else {}


class ErrorCodes(SchemaExtension):
    """Adds `extensions.code` to the errors of a result (see `with_code`)."""

    def _annotate(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [with_code(error) for error in errors]  # type: ignore[attr-defined]

    def on_operation(self) -> Iterator[None]:
        yield
        self._annotate(self.execution_context.result)
        initial = getattr(self.execution_context.result, "initial_result", None)
        if initial is not None:
            self._annotate(initial)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._annotate(result)
        yield

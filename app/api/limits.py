"""What a request may cost.

- Document limits: tokens and bracket nesting (before parsing), then the
  fan-out-aware cost, depth, aliases and top-level mutation fields of cost.py
  (aliased mutations all run, so they are counted), and no introspection unless
  settings.introspection.
- A token-bucket rate limit per caller: the payer of a `pay`, else the
  signed-in address, else the client IP (the socket peer: behind a proxy, every
  client shares the proxy's address). Buckets live in this process: with
  several processes or hosts each has its own, so the effective limit is the
  per-process limit times their number. A caller may name any payer in a `pay`,
  so a flood of forged `pay`s slows that payer down: the price of keying
  payments by payer, which lets many clients of one payer share its budget.
- The extensions of a served schema (`schema_extensions`), with masking.py's.
- The request body size cap is an ASGI middleware (HTTP 413).
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator

from graphql import DocumentNode, FieldNode, GraphQLError, OperationType, parse
from graphql.utilities import get_operation_ast, value_from_ast_untyped
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import validate_document

from app.api import cost
from app.api.context import Context
from app.api.masking import ErrorCodes, Masking
from app.config import Settings
from app.core.errors import RateLimited

# ------------------------------------------------------------------ rate limit


class TokenBuckets:
    """Token buckets per key, in this process: `per_minute` tokens, refilled continuously.
    At most `max_keys` buckets are kept; the least recently used go first (as if full)."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Takes a token: None if there was one, else the seconds until there is."""
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - then) * self._rate)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return None if allowed else (1 - tokens) / self._rate


class RateLimit(SchemaExtension):
    """Charges each operation to its caller's bucket before it executes."""

    def __init__(self, buckets: TokenBuckets) -> None:
        self._buckets = buckets

    def on_execute(self) -> Iterator[None]:
        key = self._key()
        wait = self._buckets.take(key)
        if wait is not None:
            retry_after = math.ceil(wait)
            refusal = RateLimited(
                f"too many requests for {key}: retry in {retry_after} s", retry_after=retry_after
            )
            # Raised as a finished GraphQLError: an error raised by a hook skips the other hooks.
            raise GraphQLError(
                refusal.message,
                original_error=refusal,
                extensions={"code": refusal.code, "fields": {"retryAfter": retry_after}},
            )
        yield

    def _key(self) -> str:
        context = self.execution_context.context
        if not isinstance(context, Context):
            return "ip:unknown"
        payer = self._payer()
        if payer is not None:
            return f"payer:{payer.lower()}"
        if context.session is not None:
            return f"address:{context.session}"
        return f"ip:{context.client_ip}"

    def _payer(self) -> str | None:
        """The payer of a `pay` mutation, from its literal or variable input."""
        document = self.execution_context.graphql_document
        if document is None:
            return None
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None or operation.operation != OperationType.MUTATION:
            return None
        for selection in operation.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.name.value == "pay":
                for argument in selection.arguments or ():
                    if argument.name.value == "input":
                        value = value_from_ast_untyped(argument.value, self.execution_context.variables)
                        payer = value.get("payer") if isinstance(value, dict) else None
                        return payer if isinstance(payer, str) else None
        return None


# -------------------------------------------------------------------- assembly


def schema_extensions(settings: Settings, buckets: TokenBuckets) -> list[Callable[[], SchemaExtension]]:
    """The extensions of a served schema, as factories: strawberry makes new ones per operation.

    Parsing and validating a document costs more than running a pay, and clients send the same
    few documents with new variables, so both are cached. The document limits are checked as it
    is parsed (ParseCache), before validation, whose overlap rule is quadratic in repeated fields.
    The validation cache is keyed by the document and the rule classes; DisableIntrospection makes
    new rule classes per instance, so its rules are made once here."""
    limits = cost.Limits(
        max_cost=settings.max_query_cost,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_mutations=settings.max_mutations,
    )
    extensions: list[Callable[[], SchemaExtension]] = [
        Masking,  # first, so that it sees the errors of every later step
        ErrorCodes,
        functools.partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        functools.partial(ParseCache, settings.max_tokens, limits),
    ]
    if not settings.introspection:
        extensions.append(functools.partial(AddValidationRules, DisableIntrospection().validation_rules))
    extensions.append(Validation)
    extensions.append(functools.partial(RateLimit, buckets))
    return extensions


_PLACEHOLDER = parse("{ __typename }")  # the document of a request refused before it was parsed
# Clients send the same few documents, of a few KB; caching bigger ones (up to MAX_BODY_BYTES
# each, hundreds of them) would only let a stranger fill the caches.
MAX_CACHED_QUERY = 16 * 1024


def _parse(query: str, max_tokens: int, limits: cost.Limits) -> tuple[DocumentNode, GraphQLError | None]:
    if len(query) > MAX_CACHED_QUERY:
        return _parse_uncached(query, max_tokens, limits)
    return _parse_cached(query, max_tokens, limits)


def _parse_uncached(
    query: str, max_tokens: int, limits: cost.Limits
) -> tuple[DocumentNode, GraphQLError | None]:
    """The document, and why it is refused (None if it is not); GraphQLSyntaxError if it does not
    parse. A refusal is returned, not raised, so that it is cached with its document."""
    try:
        cost.check_tokens(query, max_tokens)
    except cost.TokensRefused as refusal:
        return _PLACEHOLDER, refusal
    document = parse(query, max_tokens=max_tokens)
    try:
        cost.check(document, limits)
    except cost.OverLimit as refusal:
        return document, refusal
    return document, None


_parse_cached = functools.lru_cache(maxsize=256)(_parse_uncached)


class ParseCache(SchemaExtension):
    """Parses each distinct document once (like strawberry's ParserCache), and refuses what is over
    the limits of cost.py: brackets nested deeper than the parser's recursion can take and integers
    longer than int() takes (before parsing), then the fan-out-aware cost, depth, aliases, repeats
    and mutation fields. A refusal is the request's only error, and skips validation (see
    Validation). A document that does not parse is left to strawberry's own parser, so that its
    error is reported as usual."""

    def __init__(self, max_tokens: int, limits: cost.Limits) -> None:
        self._max_tokens = max_tokens
        self._limits = limits

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            try:
                context.graphql_document, refusal = _parse(context.query, self._max_tokens, self._limits)
            except GraphQLError:
                pass
            else:
                if refusal is not None:
                    context.pre_execution_errors = [refusal]
        yield


_validate_cached = functools.lru_cache(maxsize=256)(validate_document)


class Validation(SchemaExtension):
    """Validates each distinct document once, like strawberry's ValidationCache, but not a
    document the limits already refused: graphql-core's rules cost far more than our limits."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            cached = len(context.query or "") <= MAX_CACHED_QUERY  # else a new document each time
            validate = _validate_cached if cached else validate_document
            rules = tuple(context.validation_rules)
            context.pre_execution_errors = validate(context.schema._schema, context.graphql_document, rules)
        yield


# ------------------------------------------------------------------- body size


class BodySizeLimit:
    """ASGI middleware: refuses an HTTP request body over `max_bytes` with 413 and a JSON error,
    whether announced by Content-Length or streamed in chunks."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        payload = {
            "errors": [
                {
                    "message": f"the request body is over {self.max_bytes} bytes",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                }
            ]
        }
        body = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

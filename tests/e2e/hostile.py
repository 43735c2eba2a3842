"""Hostile requests, each under every configured limit and needing no sign-in: what they are
and what a server must answer them. Shared by the regression tests against a real server and
by the overload benchmark."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.servers import Server
from tests.factories import Chain

ANSWERED_WITHIN = 1.0  # seconds, on this 2-core machine


@dataclass(frozen=True)
class Shape:
    name: str
    body: bytes
    status: int  # the HTTP status a server must answer with
    code: str | None  # the error code it must carry (None: answered without errors)


def graphql(query: str, variables: object = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def nested_list(levels: int) -> str:
    return "[" * levels + "]" * levels


def fragment_fan_out(levels: int) -> str:
    """`query { ...F0 }` where F(i) spreads F(i+1) twice: 2^levels selections in ~50 bytes a level."""
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(levels))
    return "query { ...F0 }\n" + fragments + f"fragment F{levels} on Query {{ config {{ chainId }} }}"


def _deep_variables(levels: int) -> bytes:
    return b'{"query": "{ me }", "variables": {"a": ' + nested_list(levels).encode() + b"}}"


SHAPES = [
    Shape("variables nested 80,000 levels (160 KB)", _deep_variables(80_000), 400, "BAD_REQUEST"),
    Shape("variables nested 60,000 levels", _deep_variables(60_000), 400, "BAD_REQUEST"),
    Shape("variables nested 65 levels", _deep_variables(65), 400, "BAD_REQUEST"),
    Shape("a body that is an array nested 100,000 levels", nested_list(100_000).encode(), 400, "BAD_REQUEST"),
    Shape("fragment fan-out, 30 levels (1.5 KB)", graphql(fragment_fan_out(30)), 200, "QUERY_TOO_COMPLEX"),
    Shape("fragment fan-out, 150 levels", graphql(fragment_fan_out(150)), 200, "QUERY_TOO_COMPLEX"),
    Shape(
        "fragment fan-out, 200 levels (over the token limit)",
        graphql(fragment_fan_out(200)),
        200,
        "GRAPHQL_PARSE_FAILED",
    ),
    Shape(
        "a linear fragment chain 150 deep, each adding a field",
        graphql(
            "query { ...C0 }\n"
            + "".join(f"fragment C{i} on Query {{ a{i}: me ...C{i + 1} }}\n" for i in range(150))
            + "fragment C150 on Query { me }"
        ),
        200,
        "GRAPHQL_VALIDATION_FAILED",  # 150 aliases
    ),
    Shape(
        "selections nested 900 levels",
        graphql("{ me" + " { me" * 900 + " }" * 901),
        200,
        "GRAPHQL_PARSE_FAILED",
    ),
    Shape(
        "a list literal nested 900 levels",
        graphql("{ resources(first: " + nested_list(900) + ") { edges { cursor } } }"),
        200,
        "GRAPHQL_PARSE_FAILED",
    ),
    Shape(
        "a list variable type nested 60 levels, with a value as deep",
        graphql(
            "query($v: " + "[" * 60 + "Int" + "]" * 60 + ") { me }",
            {"v": json.loads(nested_list(59))},
        ),
        200,
        "GRAPHQL_VALIDATION_FAILED",  # never used
    ),
    Shape(
        "a 200 KB string argument",
        graphql("query($id: String!) { resource(id: $id) { id } }", {"id": "x" * 200_000}),
        200,
        None,
    ),
    Shape(
        "a 200 KB string literal",
        graphql('{ resource(id: "' + "x" * 200_000 + '") { id } }'),
        200,
        None,
    ),
    Shape(
        "an Amount of 200,000 digits",
        graphql(
            "query($p: Address!, $a: Amount!) "
            "{ permitToSign(owner: $p, token: $p, amount: $a, deadline: 1) { typedData } }",
            {"p": "0x" + "11" * 20, "a": "9" * 200_000},
        ),
        200,
        "INVALID_INPUT",
    ),
    Shape(
        "an integer literal of 5,000 digits",
        graphql("{ resources(first: " + "9" * 5000 + ") { edges { cursor } } }"),
        200,
        "GRAPHQL_PARSE_FAILED",
    ),
    Shape(
        "400 operations in one document",
        graphql(" ".join(f"query Q{i} {{ me }}" for i in range(400))),
        200,
        None,  # strawberry runs the first
    ),
    Shape(
        "1,000 operations in one document (over the token limit)",
        graphql(" ".join(f"query Q{i} {{ me }}" for i in range(1000))),
        200,
        "GRAPHQL_PARSE_FAILED",
    ),
    Shape(
        "600 aliases",
        graphql("{ " + " ".join(f"a{i}: me" for i in range(600)) + " }"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
    ),
    Shape("one field 1,900 times", graphql("{ " + "me " * 1900 + "}"), 200, "QUERY_TOO_COMPLEX"),
    Shape(
        "config { chainId } 450 times",
        graphql("{ " + "config { chainId } " * 450 + "}"),
        200,
        "QUERY_TOO_COMPLEX",
    ),
    Shape(
        "a JSON batch of 1,000 requests",
        json.dumps([{"query": "{ me }"}] * 1000).encode(),
        400,
        "BAD_REQUEST",
    ),
    Shape("invalid UTF-8", b'{"query": "\xff\xfe"}', 400, "BAD_REQUEST"),
    Shape("NaN in variables", b'{"query": "{ me }", "variables": {"a": NaN}}', 400, "BAD_REQUEST"),
    Shape(
        "a directive repeated 250 times",
        graphql("{ me" + " @include(if: true)" * 250 + " }"),
        200,
        "GRAPHQL_VALIDATION_FAILED",
    ),
]


@contextmanager
def hostile_server(chain: Chain, data_dir: Path, **env: str) -> Iterator[Server]:
    """A `python -m app serve` process on SQLite in `data_dir`, with no rate limit to hide behind
    and a short connection_init wait; keyword arguments are extra environment variables."""
    settings = {
        "RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "HUB_ADDRESS": chain.hub.address,
        "DATABASE_URL": f"sqlite:///{data_dir / 'micropayments.db'}",
        "DATA_DIR": str(data_dir),
        "CONFIRMATIONS": "0",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "WS_INIT_TIMEOUT_MS": "500",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    server = Server(settings, data_dir / "server.log").start()
    try:
        yield server
    finally:
        server.stop()


def post(server: Server, body: bytes) -> tuple[httpx.Response, float]:
    """The answer to a raw JSON body, and how many seconds it took."""
    started = time.perf_counter()
    response = httpx.post(
        server.url + "/graphql", content=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    return response, time.perf_counter() - started


def assert_alive(server: Server) -> None:
    assert server.process is not None
    assert server.process.poll() is None, server.log_path.read_text()
    assert httpx.get(server.url + "/health", timeout=5).status_code == 200

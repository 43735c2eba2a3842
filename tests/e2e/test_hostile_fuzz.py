"""Property-based hostility against a real server process: fragment DAGs with fan-out, deep
selection sets, deep lists in variables and in the body, long strings and many operations, each
under the body cap and without signing in. For every one: an answer within a second, never a
5xx nor a masked internal error, and the process alive."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings, target
from hypothesis import strategies as st

from tests.e2e.hostile import ANSWERED_WITHIN, assert_alive, hostile_server, nested_list, post
from tests.e2e.servers import Server
from tests.factories import Chain

HOSTILE = settings(
    max_examples=150,  # about 6 s on a quiet machine
    deadline=None,  # timed below, against ANSWERED_WITHIN
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
MAX_BODY = 256 * 1024
LEAVES = ["me", "__typename", "config { chainId hub }", "tokens { address }", "_meta { deployment }"]


@pytest.fixture(scope="module")
def server(deployed: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with hostile_server(deployed, tmp_path_factory.mktemp("hostile-fuzz")) as running:
        yield running


@st.composite
def fragment_dags(draw: st.DrawFn) -> bytes:
    """Fragments that each spread later ones, some several times: fan-out up to 3^40."""
    count = draw(st.integers(1, 40))
    fragments = []
    for i in range(count):
        later = list(range(i + 1, count))
        spreads = draw(st.lists(st.sampled_from(later), max_size=4)) if later else []
        leaves = draw(st.lists(st.sampled_from(LEAVES), min_size=0 if spreads else 1, max_size=3))
        alias = draw(st.booleans())
        selections = [f"...F{j}" for j in spreads] + [f"a{i}: {leaf}" if alias else leaf for leaf in leaves]
        fragments.append(f"fragment F{i} on Query {{ {' '.join(selections)} }}")
    roots = draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=3))
    query = "query { " + " ".join(f"...F{j}" for j in roots) + " }\n" + "\n".join(fragments)
    return json.dumps({"query": query}).encode()


@st.composite
def deep_selections(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 1200))
    field = draw(st.sampled_from(["me", "config", "resources", "__schema"]))
    return json.dumps({"query": "{ " + f"{field} {{ " * depth + "me" + " }" * (depth + 1)}).encode()


@st.composite
def deep_variables(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 100_000))
    inner = draw(st.sampled_from(["[%s]", '{"a": %s}']))
    value = "1"
    for _ in range(min(depth, 1000)):  # a JSON document that deep, built without recursion
        value = inner % value
    value = "[" * (depth - min(depth, 1000)) + value + "]" * (depth - min(depth, 1000))
    return ('{"query": "query($v: [Int]) { me }", "variables": {"v": ' + value + "}}").encode()


@st.composite
def deep_bodies(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 120_000))
    return draw(st.sampled_from([nested_list(depth), '{"a":' * depth + "1" + "}" * depth])).encode()


@st.composite
def long_strings(draw: st.DrawFn) -> bytes:
    length = draw(st.integers(0, 200_000))
    text = draw(st.sampled_from(["x", "\u00e9", "\\\\", '\\"', "{"])) * length
    where = draw(st.sampled_from(["variable", "literal", "name"]))
    if where == "variable":
        query = "query($id: String!) { resource(id: $id) { id } }"
        body: dict[str, Any] = {"query": query, "variables": {"id": text}}
    elif where == "literal":
        body = {"query": '{ resource(id: "' + text.replace('"', "") + '") { id } }'}
    else:
        body = {"query": "{ " + "a" * max(1, length) + " }"}
    return json.dumps(body).encode()


@st.composite
def many_operations(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(1, 3000))
    kind = draw(st.sampled_from(["query", "mutation", "subscription"]))
    field = {"query": "me", "mutation": "signOut", "subscription": "accountChanged"}[kind]
    query = " ".join(f"{kind} Q{i} {{ {field} }}" for i in range(count))
    name = draw(st.one_of(st.none(), st.integers(0, count).map(lambda i: f"Q{i}")))
    return json.dumps({"query": query, "operationName": name}).encode()


@st.composite
def repeated_fields(draw: st.DrawFn) -> bytes:
    leaf = draw(st.sampled_from(LEAVES))
    count = draw(st.integers(1, 1000))
    wrap = draw(st.sampled_from(["%s", "... on Query { %s }", "config { %s }"]))
    return json.dumps({"query": "{ " + " ".join([wrap % leaf] * count) + " }"}).encode()


HOSTILE_BODIES = st.one_of(
    fragment_dags(),
    deep_selections(),
    deep_variables(),
    deep_bodies(),
    long_strings(),
    many_operations(),
    repeated_fields(),
).filter(lambda body: len(body) <= MAX_BODY)


@HOSTILE
@given(body=HOSTILE_BODIES)
def test_every_hostile_request_is_answered_in_time_without_a_server_error(
    server: Server, body: bytes
) -> None:
    note(body[:300].decode(errors="replace") + f"... ({len(body)} bytes)")
    response, seconds = post(server, body)
    target(seconds, label="seconds to answer")  # steers the search towards slow requests
    assert response.status_code < 500, response.text[:500]
    assert seconds < ANSWERED_WITHIN, f"{seconds:.2f} s"
    answer = response.json()
    assert "data" in answer or "errors" in answer, answer
    for error in answer.get("errors") or []:
        assert error.get("extensions", {}).get("code") not in (None, "INTERNAL_ERROR"), error
    assert server.process is not None
    assert server.process.poll() is None


def test_the_server_is_healthy_after_the_fuzz(server: Server) -> None:
    assert_alive(server)

"""Hostile requests against a real `python -m app serve` process, each under every configured
limit and without signing in: every one is answered, with the error it deserves, within a
second, and the process lives on and still answers /health."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.hostile import ANSWERED_WITHIN, SHAPES, Shape, assert_alive, hostile_server, post
from tests.e2e.servers import Server
from tests.factories import Chain


@pytest.fixture(scope="module")
def server(deployed: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with hostile_server(deployed, tmp_path_factory.mktemp("hostile")) as running:
        yield running


@pytest.mark.parametrize("shape", SHAPES, ids=[shape.name for shape in SHAPES])
def test_a_hostile_request_is_answered_in_time_and_the_server_lives(server: Server, shape: Shape) -> None:
    response, seconds = post(server, shape.body)
    assert seconds < ANSWERED_WITHIN, f"{shape.name}: {seconds:.2f} s"
    assert response.status_code == shape.status, response.text[:500]
    errors = response.json().get("errors") or []
    if shape.code is None:
        assert not errors, errors
    else:
        assert errors[0]["extensions"]["code"] == shape.code, errors[0]
    assert_alive(server)


def test_variables_nested_80000_levels_deep_no_longer_kill_the_process(server: Server) -> None:
    body = b'{"query": "{ me }", "variables": {"a": ' + b"[" * 80_000 + b"]" * 80_000 + b"}}"
    assert len(body) < 256 * 1024  # under the body cap, as reported
    response, seconds = post(server, body)
    assert response.status_code == 400
    assert "JSON nested more than 64 levels deep" in response.json()["errors"][0]["message"]
    assert seconds < ANSWERED_WITHIN
    assert_alive(server)


def test_a_30_level_fragment_fan_out_is_refused_at_once_and_health_still_answers(server: Server) -> None:
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(30))
    query = "query { ...F0 }\n" + fragments + "fragment F30 on Query { config { chainId } }"
    response, seconds = post(server, httpx.Request("POST", "/", json={"query": query}).content)
    assert seconds < ANSWERED_WITHIN
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "selects 2147483648 fields once its fragments are expanded; at most 1000" in error["message"]
    assert_alive(server)

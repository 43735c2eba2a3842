"""JSON bodies and messages are decoded with bounded nesting, whatever the recursion limit."""

from __future__ import annotations

import pytest

from app.api import json_body
from tests.api.conftest import Api


def nested(levels: int) -> str:
    return '{"a": ' + "[" * levels + "]" * levels + "}"


def test_json_as_deep_as_the_limit_is_decoded() -> None:
    assert json_body.depth(json_body.decode(nested(json_body.MAX_DEPTH - 1)), 1000) == json_body.MAX_DEPTH


def test_json_deeper_than_the_limit_is_refused() -> None:
    with pytest.raises(json_body.TooDeep, match="nested more than 64 levels deep"):
        json_body.decode(nested(json_body.MAX_DEPTH))


def test_json_deeper_than_any_stack_is_refused_without_recursing() -> None:
    with pytest.raises(json_body.TooDeep):
        json_body.decode(nested(80_000))


def test_depth_counts_objects_and_arrays_not_scalars() -> None:
    assert json_body.depth({"a": [1, {"b": "c"}], "d": []}, 10) == 3
    assert json_body.depth("text", 10) == 0


def test_a_body_with_deeply_nested_variables_is_refused_with_400(api: Api) -> None:
    body = '{"query": "{ me }", "variables": ' + nested(80_000) + "}"
    response = api.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_a_body_nested_past_the_limit_says_how_deep_it_may_go(api: Api) -> None:
    body = '{"query": "{ me }", "variables": ' + nested(100) + "}"
    response = api.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["message"] == "JSON nested more than 64 levels deep: send flatter variables"


def test_nan_is_not_json(api: Api) -> None:
    body = b'{"query": "{ me }", "variables": {"a": NaN}}'
    response = api.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400

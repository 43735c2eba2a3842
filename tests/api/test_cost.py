"""The cost of a document: fragments costed once, fan-out counted, and every limit refused
with its own code, all in time linear in the document."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode, parse

from app.api.cost import Cost, DocumentCosts, TokensRefused, check_tokens
from tests.api.conftest import Api

MakeApi = Callable[..., Api]


def fan_out(levels: int) -> str:
    """`query { ...F0 }` where F(i) spreads F(i+1) twice: 2^levels fields in about 50 bytes a level."""
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(levels))
    return "query { ...F0 }\n" + fragments + f"fragment F{levels} on Query {{ config {{ chainId }} }}"


def cost_of(document: str) -> Cost:
    parsed = parse(document)
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in parsed.definitions if isinstance(d, OperationDefinitionNode))
    return DocumentCosts(fragments).of(operation.selection_set)


def test_a_fragment_fan_out_costs_its_expansion_but_is_costed_in_linear_time() -> None:
    started = time.perf_counter()
    cost = cost_of(fan_out(30))
    assert time.perf_counter() - started < 1  # the deadline every hostile request is held to
    assert cost.fields == 2 * 2**30  # config and chainId, 2^30 times
    assert cost.depth == 1


def test_aliases_and_mutation_fields_are_counted_each_time_a_fragment_is_spread() -> None:
    cost = cost_of("mutation { ...A ...A } fragment A on Mutation { a: signOut __typename }")
    assert (cost.aliases, cost.top, cost.fields) == (2, 2, 4)


def test_a_field_repeated_through_fragments_counts_every_time_in_its_selection_set() -> None:
    document = (
        "{ config { chainId } ...A ...A ... on Query { config { hub } } } "
        "fragment A on Query { config { chainId } }"
    )
    assert cost_of(document).repeats == 4
    assert cost_of("{ a: me b: me me }").repeats == 1


def test_introspection_fields_do_not_count_towards_depth() -> None:
    assert cost_of("{ __schema { types { fields { type { ofType { name } } } } } }").depth == 0
    assert cost_of("{ resources { edges { node { id } } } }").depth == 3


def test_a_fragment_cycle_costs_nothing_instead_of_recursing() -> None:
    cost = cost_of("{ ...A } fragment A on Query { me ...B } fragment B on Query { ...A }")
    assert cost.fields == 1


def test_brackets_nested_past_the_parser_are_refused_before_parsing() -> None:
    with pytest.raises(TokensRefused, match="nested more than 64 deep"):
        check_tokens("{ a" + " { a" * 5000 + " }" * 5001, max_tokens=100_000)
    check_tokens("{ a" + " { a" * 60 + " }" * 61, max_tokens=2000)


def test_an_integer_literal_longer_than_int_takes_is_refused_before_parsing() -> None:
    with pytest.raises(TokensRefused, match="an integer of 5000 digits; at most 78"):
        check_tokens("{ resources(first: " + "9" * 5000 + ") { edges { cursor } } }", max_tokens=2000)


def test_nesting_is_only_checked_as_far_as_the_parser_would_read() -> None:
    check_tokens("{ me }" + " [" * 100, max_tokens=10)
    with pytest.raises(GraphQLError):
        check_tokens('{ me(a: "unterminated) }', max_tokens=10)


def test_a_fragment_fan_out_is_refused_as_too_complex(api: Api) -> None:
    started = time.perf_counter()
    error = api.error(fan_out(30))
    assert time.perf_counter() - started < 1
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "fields": {"maxCost": 1000}}
    assert "selects 2147483648 fields once its fragments are expanded; at most 1000" in error["message"]


def test_a_small_fan_out_under_the_cost_limit_is_served(api: Api) -> None:
    assert api.data(fan_out(4)) == {"config": {"chainId": 31337}}


def test_the_cost_limit_is_a_setting(make_api: MakeApi) -> None:
    api = make_api(MAX_QUERY_COST="10")
    assert api.error(fan_out(3))["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_a_field_repeated_past_the_limit_is_refused_before_validation(api: Api) -> None:
    # The document limits' code, not GRAPHQL_VALIDATION_FAILED: validation (whose pairwise comparison
    # of repeated fields is what costs time) never ran.
    error = api.error("{ " + "config { chainId } " * 400 + "}")
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "fields": {"maxRepeats": 20}}
    assert "selects one field 400 times in one selection set" in error["message"]


def test_a_document_nested_past_the_parser_is_refused_with_a_parse_error(api: Api) -> None:
    error = api.error("{ a" + " { a" * 200 + " }" * 201)
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "nested more than 64 deep" in error["message"]

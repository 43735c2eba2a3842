"""What a request may cost and what its errors may show: document limits, GET, body size,
introspection, rate limit, masking."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from eth_account.signers.local import LocalAccount

from app.api import limits
from app.api.limits import TokenBuckets
from app.core.errors import Transient
from tests.api.conftest import Api

MakeApi = Callable[..., Api]


def test_a_query_over_get_is_answered(api: Api) -> None:
    response = api.client.get("/graphql", params={"query": "{ me }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"me": None}}


def test_a_mutation_over_get_is_refused(api: Api) -> None:
    response = api.client.get("/graphql", params={"query": "mutation { signOut }"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert "mutations are not allowed when using GET" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_graphiql_is_served_to_browsers_only_when_enabled(make_api: MakeApi) -> None:
    html = {"Accept": "text/html"}
    assert make_api().client.get("/graphql", headers=html).status_code == 200
    assert make_api(GRAPHIQL="false").client.get("/graphql", headers=html).status_code == 404


def test_a_document_deeper_than_the_limit_is_refused(make_api: MakeApi) -> None:
    api = make_api(MAX_QUERY_DEPTH="2")
    assert api.data("{ config { chainId } }")
    error = api.error("{ resources { edges { node { id } } } }")
    assert "exceeds maximum operation depth of 2" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_more_aliases_than_the_limit_are_refused(make_api: MakeApi) -> None:
    api = make_api(MAX_ALIASES="2")
    assert api.data("{ a: me b: me }")
    error = api.error("{ a: me b: me c: me }")
    assert "3 aliases found. Allowed: 2" in error["message"]


def test_a_document_with_more_tokens_than_the_limit_is_refused(make_api: MakeApi) -> None:
    api = make_api(MAX_TOKENS="100")
    error = api.error("{ " + " ".join(f"a{i}: me" for i in range(60)) + " }")
    assert "more than 100 tokens" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


@pytest.mark.parametrize(
    "document",
    [
        "mutation { a: signOut b: signOut }",
        "mutation { signOut ... on Mutation { b: signOut } }",
        "mutation { ...Two } fragment Two on Mutation { a: signOut b: signOut }",
    ],
)
def test_two_mutation_fields_in_one_operation_are_refused(api: Api, document: str) -> None:
    error = api.error(document)
    assert error["message"] == "2 mutation fields in one operation (aliases included); at most 1"
    assert error["extensions"]["code"] == "TOO_MANY_MUTATIONS"


def test_two_aliased_pays_are_refused_before_either_runs(funded: Api, payer: LocalAccount) -> None:
    pay_input = funded.pay_input(payer, funded.voucher(payer))
    document = """mutation($i: PayInput!) {
      a: pay(input: $i) { __typename }
      b: pay(input: $i) { __typename }
    }"""
    assert funded.error(document, {"i": pay_input})["extensions"]["code"] == "TOO_MANY_MUTATIONS"
    assert funded.data("{ _meta { deployment } }")  # nothing ran: still answering
    assert funded.pay(pay_input)["receipt"]["cumulativeAmount"] == pay_input["entries"][0]["cumulativeAmount"]


def test_the_mutation_limit_is_a_setting(make_api: MakeApi) -> None:
    api = make_api(MAX_MUTATIONS="2")
    assert api.data("mutation { a: signOut b: signOut }") == {"a": False, "b": False}


def test_a_body_over_the_limit_is_refused_with_413(make_api: MakeApi) -> None:
    api = make_api(MAX_BODY_BYTES="2048")
    query = "{ me }" + " " * 4096
    response = api.client.post("/graphql", json={"query": query})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_over_the_limit_is_refused_with_413(make_api: MakeApi) -> None:
    api = make_api(MAX_BODY_BYTES="2048")

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "{ me }'
        for _ in range(10):
            yield b" " * 512
        yield b'"}'

    response = api.client.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_body_under_the_limit_is_served(make_api: MakeApi) -> None:
    api = make_api(MAX_BODY_BYTES="2048")
    assert api.data("{ me }" + " " * 1024) == {"me": None}


def test_introspection_is_refused_when_disabled(make_api: MakeApi) -> None:
    body = make_api(INTROSPECTION="false").execute("{ __schema { queryType { name } } }")
    assert body["data"] is None
    assert "introspection has been disabled" in body["errors"][0]["message"]


def test_introspection_is_on_in_development(api: Api) -> None:
    assert api.data('{ __type(name: "Amount") { kind } }') == {"__type": {"kind": "SCALAR"}}


def test_the_rate_limit_refuses_a_caller_beyond_its_budget(make_api: MakeApi) -> None:
    api = make_api(RATE_LIMIT_PER_MINUTE="3")
    for _ in range(3):
        assert api.data("{ me }")
    error = api.error("{ me }")
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["fields"]["retryAfter"] == 20  # one token every 60/3 s
    assert "too many requests for ip:testclient" in error["message"]


def test_a_pay_is_charged_to_its_payer_not_to_the_client_address(
    make_api: MakeApi, payer: LocalAccount
) -> None:
    api = make_api(RATE_LIMIT_PER_MINUTE="1")
    api.deposit(payer, 1_000_000)
    api.list_resource(api.chain.accounts[2])
    typed = api.voucher(payer)  # the client address's only token
    assert api.error("{ me }")["extensions"]["code"] == "RATE_LIMITED"

    assert api.pay(api.pay_input(payer, typed))["__typename"] == "PaymentAccepted"
    assert (
        api.error(
            "mutation($i: PayInput!) { pay(input: $i) { __typename } }", {"i": api.pay_input(payer, typed)}
        )["extensions"]["code"]
        == "RATE_LIMITED"
    )


def test_token_buckets_refill_with_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, clock=lambda: now[0])
    for _ in range(60):
        assert buckets.take("a") is None
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") is None  # each key has its own bucket
    now[0] += 1.0
    assert buckets.take("a") is None


def test_token_buckets_forget_the_least_recently_used_keys() -> None:
    buckets = TokenBuckets(per_minute=1, clock=lambda: 0.0, max_keys=2)
    for key in ("a", "b", "c"):
        assert buckets.take(key) is None
    assert buckets.take("a") is None  # forgotten, so full again
    assert buckets.take("c") is not None


def test_an_unexpected_error_is_masked(api: Api) -> None:
    def broken() -> None:
        raise RuntimeError("password=hunter2 at db.internal")

    api.services.catalog.tokens = broken  # type: ignore[assignment,method-assign]
    response = api.post("{ tokens { address } }")
    assert response.status_code == 200
    assert "hunter2" not in response.text
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL_ERROR"


def test_a_transient_failure_is_reported_as_unavailable_without_details(api: Api) -> None:
    def down() -> int:
        raise Transient("chain node: http://secret-key@rpc.example failed")

    api.services.hub.withdraw_delay = down  # type: ignore[method-assign]
    body = api.execute("{ config { chainId withdrawDelay } }")
    assert body["data"] == {"config": {"chainId": 31337, "withdrawDelay": None}}
    error = body["errors"][0]
    assert error["extensions"]["code"] == "UNAVAILABLE"
    assert "retry later" in error["message"]
    assert "secret" not in str(body)


def test_a_document_too_big_to_be_a_client_s_is_served_but_not_cached(api: Api) -> None:
    before = limits._parse_cached.cache_info().currsize
    padded = '{ resource(id: "' + "x" * (limits.MAX_CACHED_QUERY + 1) + '") { id } }'
    assert api.data(padded) == {"resource": None}
    assert limits._parse_cached.cache_info().currsize == before
    assert api.data("{ me }") == {"me": None}
    assert limits._parse_cached.cache_info().currsize <= before + 1

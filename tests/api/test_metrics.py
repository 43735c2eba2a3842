"""/metrics: what Prometheus sees of pays, requests and the chain."""

from __future__ import annotations

from collections.abc import Callable

from eth_account.signers.local import LocalAccount
from prometheus_client.parser import text_string_to_metric_families

from app.api.instrumentation import route_label
from tests.api.conftest import Api

MakeApi = Callable[..., Api]


def sample(api: Api, name: str, **labels: str) -> float:
    """The value of one sample on /metrics, 0 when it has not been counted yet."""
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return 0.0


def test_an_accepted_pay_is_counted_and_timed(funded: Api, payer: LocalAccount) -> None:
    accepted = sample(funded, "micropayments_pays_accepted_total")
    timed = sample(funded, "micropayments_pay_duration_seconds_count", field="pay")

    assert funded.pay(funded.pay_input(payer, funded.voucher(payer)))["__typename"] == "PaymentAccepted"

    assert sample(funded, "micropayments_pays_accepted_total") == accepted + 1
    assert sample(funded, "micropayments_pay_duration_seconds_count", field="pay") == timed + 1


def test_a_refused_pay_is_counted_under_its_refusal_code(
    funded: Api, payer: LocalAccount, stranger: LocalAccount
) -> None:
    refused = sample(funded, "micropayments_pays_refused_total", code="BAD_SIGNATURE")
    accepted = sample(funded, "micropayments_pays_accepted_total")

    assert funded.pay(funded.pay_input(stranger, funded.voucher(payer)))["code"] == "BAD_SIGNATURE"

    assert sample(funded, "micropayments_pays_refused_total", code="BAD_SIGNATURE") == refused + 1
    assert sample(funded, "micropayments_pays_accepted_total") == accepted


def test_a_pay_refused_before_the_payment_service_is_counted_and_timed(
    funded: Api, payer: LocalAccount
) -> None:
    # The resolver counts: a refusal it raises itself (a bad idempotency key) is counted too.
    refused = sample(funded, "micropayments_pays_refused_total", code="INVALID_INPUT")
    timed = sample(funded, "micropayments_pay_duration_seconds_count", field="pay")

    result = funded.pay(funded.pay_input(payer, funded.voucher(payer)), idempotency_key="\n")
    assert result["code"] == "INVALID_INPUT"

    assert sample(funded, "micropayments_pays_refused_total", code="INVALID_INPUT") == refused + 1
    assert sample(funded, "micropayments_pay_duration_seconds_count", field="pay") == timed + 1


def test_pay_batch_rows_are_counted_and_the_field_timed(funded: Api, payer: LocalAccount) -> None:
    accepted = sample(funded, "micropayments_pays_accepted_total")
    timed = sample(funded, "micropayments_pay_duration_seconds_count", field="payBatch")
    inputs = [funded.pay_input(payer, funded.voucher(payer))]

    rows = funded.data("mutation($i: [PayInput!]!) { payBatch(inputs: $i) { __typename } }", {"i": inputs})[
        "payBatch"
    ]
    assert [row["__typename"] for row in rows] == ["PaymentAccepted"]

    assert sample(funded, "micropayments_pays_accepted_total") == accepted + 1
    assert sample(funded, "micropayments_pay_duration_seconds_count", field="payBatch") == timed + 1


def test_http_requests_are_timed_by_route_and_method(api: Api) -> None:
    before = sample(api, "micropayments_http_request_duration_seconds_count", route="/health", method="GET")
    api.client.get("/health")
    after = sample(api, "micropayments_http_request_duration_seconds_count", route="/health", method="GET")
    assert after == before + 1


def test_any_unknown_path_is_timed_under_one_route_label() -> None:
    assert route_label("/graphql") == "/graphql"
    assert route_label("/demo/demo.js") == "/demo"
    assert route_label("/graphiql/react@18.2.0/umd/react.production.min.js") == "/graphiql"
    assert route_label("/wp-admin/setup.php") == "other"
    assert route_label("/graphqlx") == "other"


def test_the_indexer_lag_is_the_blocks_between_the_head_and_the_last_indexed_block(api: Api) -> None:
    api.services.indexer.sync_once()
    head = sample(api, "micropayments_chain_head_block")
    indexed = sample(api, "micropayments_indexed_block")
    assert head == api.chain.w3.eth.block_number
    assert sample(api, "micropayments_indexer_lag_blocks") == head - indexed >= 0


def test_metrics_are_not_served_when_disabled(make_api: MakeApi) -> None:
    assert make_api(METRICS="false").client.get("/metrics").status_code == 404

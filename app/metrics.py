"""What the server counts for Prometheus (served at /metrics by app.api.instrumentation).

Defined once per process in prometheus_client's default registry, next to its process and
Python collectors. With several uvicorn workers (WORKERS > 1) each process counts its own:
scrape them one by one, or run one worker per container.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "micropayments"

pays_accepted = Counter(f"{PREFIX}_pays_accepted", "Vouchers accepted (pay and payBatch rows).")
pays_refused = Counter(f"{PREFIX}_pays_refused", "Vouchers refused, by the refusal's stable code.", ["code"])
pay_seconds = Histogram(
    f"{PREFIX}_pay_duration_seconds",
    "Time to answer one pay or payBatch field, refusals included.",
    ["field"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
http_seconds = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method (WebSockets not included).",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
settlement_batches = Counter(f"{PREFIX}_settlement_batches", "Claim transactions the settler submitted.")
settlement_lanes = Counter(
    f"{PREFIX}_settlement_lanes", "Lanes (one payer's vector of payees) in the submitted claims."
)
operator_transactions = Counter(
    f"{PREFIX}_operator_transactions",
    "The operator's transactions that left the mempool, by kind and status (mined, reverted).",
    ["kind", "status"],
)
operator_gas = Counter(
    f"{PREFIX}_operator_gas_used", "Gas the operator's mined transactions used, by kind.", ["kind"]
)
head_block = Gauge(f"{PREFIX}_chain_head_block", "The node's latest block, read at scrape time.")
indexed_block = Gauge(f"{PREFIX}_indexed_block", "The last block the indexer has applied.")
indexer_lag = Gauge(
    f"{PREFIX}_indexer_lag_blocks",
    "Blocks between the node's head and the last indexed block (CONFIRMATIONS included).",
)

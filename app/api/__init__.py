"""The GraphQL API: a thin strawberry schema over app.services, served by Starlette.

scalars.py        Amount, Address, Bytes32, Bytes, Timestamp, SafeInt
types.py          object types, each wrapping a domain object (`from_domain`)
connections.py    Relay-style pagination with opaque cursors
errors.py         the Refusal interface and its types (Refused, CumulativeMismatch, InsufficientFunds)
results.py        mutation result unions, and the handlers that turn raised refusals into them
inputs.py         input types
queries.py        Query
mutations.py      Mutation
subscriptions.py  Subscription (graphql-transport-ws), fed by the event bus
transactions.py   the exits (transactions for users' wallets) and the relays (gasless)
context.py        per-request context: services, session, client IP
limits.py         document limits, rate limit, body size cap
masking.py        error codes; everything unexpected masked
schema.py         the schema (built at import time; services come with the context)
schema_export.py  export_sdl(): the SDL committed as schema.graphql
instrumentation.py  /metrics, request latency, pay outcomes (the metrics are app/metrics.py)
graphiql.py       GraphiQL's page with its scripts served from build/graphiql/, not a CDN
app.py            create_app(services): /graphql (HTTP and WebSocket), /graphiql, /health, /metrics, /demo
demo/             the browser demo at /demo (its JS is bundled by scripts/build-demo)
"""

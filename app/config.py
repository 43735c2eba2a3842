"""Configuration from environment variables, validated once at start.

Every problem is reported at once, each with the variable to set, so that a
misconfigured deployment fails before it accepts a single voucher.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.core.types import Address, InvalidAddressError, to_address


class ConfigError(Exception):
    """The environment does not describe a runnable server; the message lists every problem."""


@dataclass(frozen=True)
class Settings:
    environment: str  # "development" or "production"
    data_dir: Path
    database_url: str
    rpc_url: str
    chain_id: int | None  # if set, the node must agree
    hub: Address | None  # None: read from the deployment file
    deployment_file: Path
    operator_key: str | None
    confirmations: int
    settle_margin: int  # seconds the settler needs to get a claim mined
    host: str
    port: int
    public_url: str  # what Sign-In with Ethereum messages name as domain and URI
    # A JSON-RPC URL wallets may add the chain with; never RPC_URL itself, which may carry a key.
    public_rpc_url: str | None
    graphiql: bool
    metrics: bool
    introspection: bool
    max_body_bytes: int
    max_query_depth: int
    max_query_cost: int  # fields once fragments are expanded (app/api/cost.py)
    max_aliases: int
    max_tokens: int
    max_mutations: int
    max_batch: int
    max_in_flight: int  # HTTP GraphQL requests served at once per process (app/api/admission.py)
    max_queued: int  # and waiting for a slot, beyond which they are refused
    max_queue_wait: float  # seconds a request may wait for a slot before it is refused
    request_timeout: float  # seconds to answer an HTTP GraphQL request
    watchdog_stall: float  # seconds the event loop may stall before the process exits (app/watchdog.py)
    shutdown_timeout: float  # seconds a stopping process waits for requests in flight
    ws_init_timeout: float  # seconds a WebSocket may take to send connection_init
    max_subscriptions: int  # operations at once on one WebSocket
    ws_ping: float  # seconds between keepalive pings, and to answer one, before a socket is closed (1011)
    rate_limit_per_minute: int
    session_ttl: int
    nonce_ttl: int
    index_interval: float
    settle: bool  # run the settler inside `serve` (the leader process only)
    settle_interval: float
    settle_max_batch: int
    settle_min_batch: int
    settle_max_age: int
    settle_max_outstanding: int
    settle_urgency: int
    settle_max_gas_per_hour: int  # claims wait once those of the last hour used this much gas
    tx_bump_after: int
    example_paid_api: bool = False  # mount app/examples/paid_api.py at /example

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def load(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    problems: list[str] = []

    def integer(name: str, default: int, minimum: int = 0) -> int:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name} must be an integer, got {raw!r}")
            return default
        if value < minimum:
            problems.append(f"{name} must be at least {minimum}, got {value}")
        return value

    def flag(name: str, default: bool) -> bool:
        raw = env.get(name, "").strip().lower()
        if raw == "":
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        problems.append(f"{name} must be true or false, got {raw!r}")
        return default

    environment = env.get("APP_ENV", "development")
    if environment not in ("development", "production"):
        problems.append(f"APP_ENV must be development or production, got {environment!r}")
    production = environment == "production"
    data_dir = Path(env.get("DATA_DIR", ".data"))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'micropayments.db'}"
    if not database_url.startswith(("sqlite", "postgres")):
        problems.append(
            f"DATABASE_URL must be a sqlite:// or postgresql:// URL, got {database_url.split(':')[0]}://"
        )

    hub: Address | None = None
    if env.get("HUB_ADDRESS"):
        try:
            hub = to_address(env["HUB_ADDRESS"])
        except InvalidAddressError as error:
            problems.append(f"HUB_ADDRESS: {error}")
    deployment_file = Path(env.get("DEPLOYMENT_FILE", str(data_dir / "deployment.json")))

    operator_key = env.get("OPERATOR_KEY") or None
    if operator_key is not None and not _is_private_key(operator_key):
        problems.append("OPERATOR_KEY must be a 32-byte hex private key (0x followed by 64 hex digits)")
    if production and operator_key is None:
        problems.append("OPERATOR_KEY is required in production (it sends claims and relays)")

    chain_id_raw = env.get("CHAIN_ID")
    chain_id = integer("CHAIN_ID", 0, minimum=1) if chain_id_raw else None
    port = integer("PORT", 8000, minimum=1)
    host = env.get("HOST", "127.0.0.1")
    settings = Settings(
        environment=environment,
        data_dir=data_dir,
        database_url=database_url,
        rpc_url=env.get("RPC_URL", "http://127.0.0.1:8545"),
        chain_id=chain_id,
        hub=hub,
        deployment_file=deployment_file,
        operator_key=operator_key,
        confirmations=integer("CONFIRMATIONS", 0 if not production else 12),
        settle_margin=integer("SETTLE_MARGIN", 600),
        host=host,
        port=port,
        public_url=env.get("PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
        public_rpc_url=env.get("PUBLIC_RPC_URL") or None,
        graphiql=flag("GRAPHIQL", not production),
        example_paid_api=flag("EXAMPLE_PAID_API", False),
        metrics=flag("METRICS", True),
        introspection=flag("INTROSPECTION", not production),
        max_body_bytes=integer("MAX_BODY_BYTES", 256 * 1024, minimum=1024),
        max_query_depth=integer("MAX_QUERY_DEPTH", 10, minimum=2),
        max_query_cost=integer("MAX_QUERY_COST", 1000, minimum=10),
        max_aliases=integer("MAX_ALIASES", 15, minimum=1),
        max_tokens=integer("MAX_TOKENS", 2000, minimum=100),
        max_mutations=integer("MAX_MUTATIONS", 1, minimum=1),
        max_batch=integer("MAX_BATCH", 1000, minimum=1),
        max_in_flight=integer("MAX_IN_FLIGHT", 16, minimum=1),
        max_queued=integer("MAX_QUEUED", 32, minimum=0),
        max_queue_wait=integer("MAX_QUEUE_WAIT_MS", 1000, minimum=1) / 1000,
        request_timeout=integer("REQUEST_TIMEOUT_MS", 5000, minimum=10) / 1000,
        watchdog_stall=integer("WATCHDOG_MS", 5000, minimum=100) / 1000,
        shutdown_timeout=integer("SHUTDOWN_TIMEOUT_MS", 10_000, minimum=0) / 1000,
        ws_init_timeout=integer("WS_INIT_TIMEOUT_MS", 5000, minimum=10) / 1000,
        max_subscriptions=integer("MAX_SUBSCRIPTIONS", 20, minimum=1),
        ws_ping=integer("WS_PING_MS", 10_000, minimum=100) / 1000,
        rate_limit_per_minute=integer("RATE_LIMIT_PER_MINUTE", 6000, minimum=1),
        session_ttl=integer("SESSION_TTL", 24 * 3600, minimum=60),
        nonce_ttl=integer("NONCE_TTL", 600, minimum=10),
        index_interval=float(integer("INDEX_INTERVAL_MS", 1000, minimum=10)) / 1000,
        settle=flag("SETTLE", True),
        settle_interval=float(integer("SETTLE_INTERVAL_MS", 10_000, minimum=10)) / 1000,
        settle_max_batch=integer("SETTLE_MAX_BATCH", 200, minimum=1),
        settle_min_batch=integer("SETTLE_MIN_BATCH", 50, minimum=1),
        settle_max_age=integer("SETTLE_MAX_AGE", 3600, minimum=0),
        settle_max_outstanding=integer("SETTLE_MAX_OUTSTANDING", 10 * 10**6, minimum=1),
        settle_urgency=integer("SETTLE_URGENCY", 1800, minimum=0),
        settle_max_gas_per_hour=integer("SETTLE_MAX_GAS_PER_HOUR", 100_000_000, minimum=1),
        tx_bump_after=integer("TX_BUMP_AFTER", 30, minimum=1),
    )
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return settings


def _is_private_key(text: str) -> bool:
    body = text[2:] if text.startswith("0x") else text
    return len(body) == 64 and all(c in "0123456789abcdefABCDEF" for c in body)

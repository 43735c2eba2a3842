"""The local stack of `python -m app dev`: a fresh chain with the hub deployed, demo readers
with USDC in their wallets, demo creators with articles for sale, and the settings the server
runs with. Everything here uses anvil's public test accounts and exists only on that chain.

    run(...)                            all of it, until a signal stops it
    ensure_free(host, port, variable)   fail early, naming the variable to change
    reset(data_dir, deployment_file)    forget the previous run (its chain is gone)
    deploy(rpc_url, withdraw_delay)     TestStablecoin + hub, readers funded
    server_env(...)                     what the server is told (development settings)
    seed(services)                      creators' articles in the catalog
    banner(...)                         what the developer needs to start clicking
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from eth_account import Account
from web3 import Web3

from app import config, logs, server
from app.chain.anvil import DEV_KEYS, Anvil, AnvilError
from app.chain.deploy import Deployment, deploy_local
from app.core.types import Address, to_address
from app.services import runtime
from app.services.runtime import Services
from app.store.catalog import Resource

log = logging.getLogger(__name__)

USDC = 10**6  # the test stablecoin has 6 decimals, like USDC
OPERATOR = 0  # dev account that deploys, owns the hub, sends claims and relays
READERS = (1, 2, 3, 4, 5)  # dev accounts with USDC in their wallets (they already have ETH)
READER_FUNDS = 1_000 * USDC
CREATORS = {7: "Ada", 8: "Ben"}  # dev account -> the name their listings carry


@dataclass(frozen=True)
class Article:
    id: str
    creator: int  # dev account
    price: int  # base units
    title: str
    description: str


ARTICLES = (
    Article("article-1", 7, 10_000, "Ada: A cent at a time",
            "Why paying per article works once fees stop eating the payment."),
    Article("article-2", 7, 20_000, "Ada: Vouchers, not transactions",
            "Each payment is a signature; the chain sees only the latest one per lane."),
    Article("article-3", 7, 50_000, "Ada: A thousand payments, one claim",
            "How the server settles many lanes in a single transaction."),
    Article("article-4", 8, 10_000, "Ben: Session keys for readers",
            "Approve a spending cap once, then read without a wallet pop-up per article."),
    Article("article-5", 8, 30_000, "Ben: What a creator sees",
            "Sales as they happen, earnings once claimed, and a withdrawal whenever you like."),
    Article("article-6", 8, 40_000, "Ben: Leaving without the server",
            "Creators claim their vouchers and payers withdraw their deposits with nothing but a node."),
)  # fmt: skip


class CannotStart(Exception):
    """The stack cannot start as configured; the message says what to change."""


class PortInUse(CannotStart):
    """Something already listens where the stack wants to."""


def run(
    env: Mapping[str, str],
    chain_port: int | None,
    http_port: int | None,
    deployment_file: Path,
    withdraw_delay: int,
) -> None:
    """Starts anvil, deploys, seeds, and serves the API and the demo page until uvicorn is told
    to stop (SIGINT, SIGTERM: it re-raises the signal after shutting down). The chain stops
    on the way out, whatever stopped the server. Raises CannotStart before starting anything
    when the configuration or a port will not do."""
    try:
        chain_port = chain_port or port_from(env, "CHAIN_PORT", 8545)
        chain_url = f"http://127.0.0.1:{chain_port}"
        data_dir = Path(env.get("DATA_DIR") or ".data")
        server_vars = server_env(
            env, chain_url, deployment_file, data_dir, http_port or port_from(env, "PORT", 8000)
        )
        settings = config.load(server_vars)  # every problem at once, before anything starts
    except config.ConfigError as error:
        raise CannotStart(str(error)) from error
    ensure_free("127.0.0.1", chain_port, "CHAIN_PORT")
    ensure_free(settings.host, settings.port, "PORT")
    if env.get("DATABASE_URL"):
        log.warning("ignoring DATABASE_URL: the local stack always starts a fresh SQLite database")

    reset(settings.data_dir, settings.deployment_file)
    anvil_log = settings.data_dir / "anvil.log"
    log.info("starting a local chain (anvil) at %s", chain_url)
    chain = Anvil(port=chain_port, log_path=anvil_log)
    try:
        try:
            chain.start()  # stop() below also stops an anvil interrupted while starting
        except AnvilError as error:
            raise CannotStart(str(error)) from error
        log.info("deploying the test stablecoin and the hub, funding the readers")
        deployment = deploy(chain.url, withdraw_delay)
        deployment.write(settings.deployment_file)
        log.info("hub %s; wrote %s", deployment.hub, settings.deployment_file)
        log.info("listing the demo creators' articles")
        services = runtime.build(settings)
        try:
            listed = seed(services)
        finally:
            services.close()
        log.info("%d articles listed; starting the server at %s", len(listed), settings.public_url)
        # Built here rather than by uvicorn as a factory: uvicorn would hold a Ctrl-C back
        # until the factory had tried, and failed, to reach the chain the Ctrl-C just stopped.
        os.environ.update(server_vars)  # app.server.create reads its settings from the environment
        app = server.create()
        ready = banner(settings, deployment, chain.url, anvil_log)
        _Server(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level=env.get("LOG_LEVEL", "info").lower(),
                log_config=logs.config(env),
                access_log=False,
            ),
            on_ready=lambda: print(ready, flush=True),
        ).run()
    finally:
        log.info("stopping the chain")
        chain.stop()


class _Server(uvicorn.Server):
    """uvicorn's server, calling `on_ready` once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            self._on_ready()


def ensure_free(host: str, port: int, variable: str) -> None:
    """Raises PortInUse, naming `variable`, unless a server could listen on host:port now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As uvicorn and anvil do: a socket of a run that just ended (TIME_WAIT) is no obstacle,
        # a listening one is.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            raise PortInUse(
                f"cannot listen on {host}:{port} ({error.strerror}): something else uses it "
                f"(another scripts/dev?). Stop it, or choose another port with {variable}=..."
            ) from error


def reset(data_dir: Path, deployment_file: Path) -> None:
    """Deletes what a previous run left. Its chain is gone (anvil starts empty every time),
    so its database would index a chain that no longer exists: the indexer stops at the first
    block hash it cannot find again, and its deposits, vouchers and receipts would be fiction.
    A new chain gets a new database."""
    database = data_dir / "micropayments.db"
    stale = [deployment_file, data_dir / "anvil.log", database]
    stale += [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    for path in stale:
        if path.exists():
            log.info("removing %s from the previous run", path)
            path.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)


def deploy(rpc_url: str, withdraw_delay: int) -> Deployment:
    """The test stablecoin and the hub, deployed by the operator account; each reader gets
    READER_FUNDS in their wallet, to deposit as they like (depositWithPermit needs no ETH)."""
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    readers = [Account.from_key(DEV_KEYS[i]).address for i in READERS]
    operator = Account.from_key(DEV_KEYS[OPERATOR]).address
    return deploy_local(w3, operator, readers, amount=READER_FUNDS, withdraw_delay=withdraw_delay)


def port_from(env: Mapping[str, str], variable: str, default: int) -> int:
    raw = env.get(variable) or str(default)
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise config.ConfigError(f"{variable} must be a TCP port (1-65535), got {raw!r}")
    return int(raw)


def server_env(
    base: Mapping[str, str], rpc_url: str, deployment_file: Path, data_dir: Path, port: int
) -> dict[str, str]:
    """The variables the dev server runs with: those the local stack decides, over `base`
    (the developer's environment), whose tunables (HOST, SETTLE_*, LOG_LEVEL ...) still apply."""
    fixed = {
        "APP_ENV": "development",
        "RPC_URL": rpc_url,
        "PUBLIC_RPC_URL": rpc_url,  # the local chain, for the demo to add to a wallet that lacks it
        "CHAIN_ID": "",
        "HUB_ADDRESS": "",  # the hub is the one the deployment file names
        "DEPLOYMENT_FILE": str(deployment_file),
        "DATA_DIR": str(data_dir),
        # Always a fresh SQLite file: a DATABASE_URL from the environment would hold the index
        # of another chain (see reset).
        "DATABASE_URL": f"sqlite:///{data_dir / 'micropayments.db'}",
        "OPERATOR_KEY": DEV_KEYS[OPERATOR],
        "CONFIRMATIONS": "0",  # one node, no reorgs
        "PORT": str(port),
    }
    # Settlement within a minute of paying, so that a demo shows claims and earnings.
    tunable = {
        "SETTLE_MIN_BATCH": "5",
        "SETTLE_MAX_AGE": "60",
        "INDEX_INTERVAL_MS": "250",
        "SETTLE_INTERVAL_MS": "2000",
    }
    return {**tunable, **base, **fixed}


def seed(services: Services) -> list[Resource]:
    """Lists ARTICLES, priced in the deployment's stablecoin. Indexes the chain first: the
    catalog only accepts a token once it has seen the hub allow it."""
    services.indexer.sync_once()
    tokens = [t.address for t in services.catalog.tokens() if t.allowed]
    if not tokens:
        raise RuntimeError("the hub allows no token: was it deployed with deploy_local?")
    return [
        services.catalog.save(creator_address(a.creator), a.id, tokens[0], a.price, a.title, a.description)
        for a in ARTICLES
    ]


def creator_address(account: int) -> Address:
    return to_address(Account.from_key(DEV_KEYS[account]).address)


def banner(settings: config.Settings, deployment: Deployment, chain_url: str, anvil_log: Path) -> str:
    """URLs, addresses and keys, as the developer needs them once everything answers."""
    url = settings.public_url
    lines = [
        "",
        "Local stack is up:",
        f"  demo        {url}/demo/",
        f"  GraphiQL    {url}/graphql",
        f"  health      {url}/health",
        f"  chain RPC   {chain_url}  (chain id {deployment.chain_id}; anvil's log: {anvil_log})",
        f"  hub         {deployment.hub}",
        f"  USDC        {deployment.tokens[0]}  (TestStablecoin: 6 decimals, anyone may mint)",
        f"  deployment  {settings.deployment_file}",
        f"  database    {settings.database_url}  (fresh each run, like the chain)",
        f"  settlement  a claim once {settings.settle_min_batch} lanes wait or the oldest voucher"
        f" is {settings.settle_max_age} s old",
        "Accounts (anvil's public test keys: never send real funds to them):",
    ]
    roles = {OPERATOR: "operator: deploys, owns the hub, sends claims and relays (pays gas)"}
    roles |= {i: f"reader: {READER_FUNDS // USDC:,} USDC in the wallet, no deposit yet" for i in READERS}
    for account, name in CREATORS.items():
        listed = ", ".join(a.id for a in ARTICLES if a.creator == account)
        roles[account] = f"creator {name}: sells {listed}"
    for index, role in sorted(roles.items()):
        holder = Account.from_key(DEV_KEYS[index])
        lines.append(f"  #{index} {holder.address}  key {DEV_KEYS[index]}")
        lines.append(f"     {role}")
    lines.append("Ctrl-C stops everything.")
    return "\n".join(lines)

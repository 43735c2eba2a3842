"""Builds the services of one server process from its settings."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_account import Account

from app.chain.deploy import Deployment
from app.chain.hub import HubClient
from app.chain.interface import Hub, NotAToken
from app.chain.operator import Operator
from app.config import ConfigError, Settings
from app.core.eip712 import Domain
from app.core.errors import NotConfigured, Transient
from app.core.signatures import sign
from app.core.types import Address, to_address
from app.services.accounts import Accounts
from app.services.auth import Auth
from app.services.background import Worker
from app.services.catalog import Catalog, Resources
from app.services.clock import Clock, system_clock
from app.services.events import EventBus, MemoryBus, PostgresBus, pg_conninfo
from app.services.exits import Exits
from app.services.indexer import Indexer
from app.services.leadership import FileLeadership, Leadership, PostgresLeadership
from app.services.payments import Payments
from app.services.profiles import Profiles
from app.services.relay import Relay
from app.services.session_keys import SessionKeys
from app.services.settler import SettlePolicy, Settler
from app.services.transactions import TxManager
from app.services.typed_data import TypedData
from app.store.database import Database

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    operator: Address | None  # the address of OPERATOR_KEY: it acknowledges vouchers and sends claims
    db: Database
    hub: Hub
    domain: Domain
    bus: EventBus
    payments: Payments
    session_keys: SessionKeys
    accounts: Accounts
    catalog: Catalog
    profiles: Profiles
    auth: Auth
    typed_data: TypedData
    indexer: Indexer
    relay: Relay
    transactions: TxManager | None  # None without OPERATOR_KEY: nothing is sent
    settler: Settler | None
    exits: Exits

    def worker(self) -> Worker:
        """The background work of a server process (it only acts while it holds the leadership)."""
        leadership: Leadership = (
            PostgresLeadership(pg_conninfo(self.db.url))
            if self.db.is_postgres
            else FileLeadership(self.settings.data_dir / "leader.lock")
        )
        settler = self.settler if self.settings.settle else None
        return Worker(
            leadership,
            self.indexer,
            self.transactions,
            settler,
            self.settings.index_interval,
            self.settings.settle_interval,
        )

    def close(self) -> None:
        self.payments.close()
        self.relay.close()
        self.bus.close()
        self.db.dispose()


def build(settings: Settings, clock: Clock = system_clock) -> Services:
    """Connects to the node and the database, migrates the schema, and wires the services.
    Raises ConfigError with a clear message when the configuration cannot work."""
    hub_address, start_block = _hub_address(settings)
    hub = HubClient.connect(settings.rpc_url, hub_address)
    try:
        chain_id = hub.chain_id()
    except Transient as error:
        raise ConfigError(f"no JSON-RPC node answers at RPC_URL={settings.rpc_url}: {error}") from error
    if settings.chain_id is not None and settings.chain_id != chain_id:
        raise ConfigError(f"CHAIN_ID={settings.chain_id} but the node at RPC_URL is on chain {chain_id}")
    domain = Domain(chain_id=chain_id, hub=hub_address)
    if hub.domain_separator() != domain.separator:
        raise ConfigError(
            f"no MicropaymentHub answers at {hub_address} on chain {chain_id}: check HUB_ADDRESS"
        )
    if settings.operator_key:
        # Acknowledgements by any other key than the hub's operator are worthless on chain.
        key_address = to_address(Account.from_key(settings.operator_key).address)
        if hub.operator() != key_address:
            raise ConfigError(
                f"OPERATOR_KEY is {key_address}, but the hub's operator is {hub.operator()}: "
                "use the operator's key (or have the owner call setOperator)"
            )
        if hub.withdraw_delay() < settings.settle_margin + settings.settle_urgency:
            needed = settings.settle_margin + settings.settle_urgency
            raise ConfigError(
                f"the hub's withdrawal delay ({hub.withdraw_delay()} s) is shorter than SETTLE_MARGIN + "
                f"SETTLE_URGENCY ({needed} s): the settler could not claim acknowledged vouchers before a "
                "payer's withdrawal; lower them or redeploy with a longer delay"
            )

    db = Database(settings.database_url)
    db.migrate()
    bus: EventBus = PostgresBus(pg_conninfo(db.url)) if db.is_postgres else MemoryBus()

    @functools.lru_cache(maxsize=64)
    def token_domain(token: Address) -> dict[str, Any] | None:
        try:
            info = hub.token_info(token)
        except NotAToken:
            return None
        if info.domain is None:
            return None
        return {
            "name": info.domain.name,
            "version": info.domain.version,
            "chainId": info.domain.chain_id,
            "verifyingContract": info.domain.verifying_contract,
        }

    transactions = (
        TxManager(
            db,
            Operator.connect(settings.rpc_url, hub_address, settings.operator_key),
            clock,
            bump_after=settings.tx_bump_after,
        )
        if settings.operator_key
        else None
    )
    policy = SettlePolicy(
        max_batch=settings.settle_max_batch,
        min_batch=settings.settle_min_batch,
        max_age=settings.settle_max_age,
        max_outstanding=settings.settle_max_outstanding,
        urgency=settings.settle_urgency,
        max_gas_per_hour=settings.settle_max_gas_per_hour,
    )
    resources = Resources(db)  # shared: a resource saved here is what the next pay reads
    return Services(
        settings=settings,
        clock=clock,
        operator=None if transactions is None else to_address(transactions.sender),
        db=db,
        hub=hub,
        domain=domain,
        bus=bus,
        payments=Payments(
            db,
            domain,
            clock,
            bus,
            settings.settle_margin,
            _acknowledger(settings.operator_key),
            resources,
        ),
        session_keys=SessionKeys(db, domain, clock, settings.settle_margin),
        accounts=Accounts(db),
        catalog=Catalog(db, clock, resources),
        profiles=Profiles(db, clock),
        auth=Auth(db, clock, settings.public_url, chain_id, settings.nonce_ttl, settings.session_ttl),
        typed_data=TypedData(db, domain, token_domain, hub.permit_nonce, clock),
        indexer=Indexer(db, hub, bus, clock, start_block, settings.confirmations),
        relay=Relay(transactions),
        transactions=transactions,
        settler=Settler(db, hub, transactions, clock, policy) if transactions else None,
        exits=Exits(db, domain),
    )


def _hub_address(settings: Settings) -> tuple[Address, int]:
    """HUB_ADDRESS (indexed from block 0, or DEPLOYMENT_FILE's block when it names the same hub),
    else the deployment file that scripts/deploy wrote."""
    deployment = None
    if settings.deployment_file.is_file():
        deployment = Deployment.read(settings.deployment_file)
    if settings.hub is not None:
        if deployment is not None and deployment.hub == settings.hub:
            return settings.hub, deployment.deployed_at_block
        return settings.hub, 0
    if deployment is None:
        raise ConfigError(
            f"set HUB_ADDRESS, or run scripts/deploy to write {settings.deployment_file} (DEPLOYMENT_FILE)"
        )
    return deployment.hub, deployment.deployed_at_block


def _acknowledger(operator_key: str | None) -> Callable[[bytes], bytes]:
    """Signs the operator's acknowledgement of each accepted voucher. Without OPERATOR_KEY the
    server cannot acknowledge, so it accepts nothing (it can still answer queries)."""
    if not operator_key:

        def refuse(_digest: bytes) -> bytes:
            raise NotConfigured("this server accepts no vouchers: it has no OPERATOR_KEY to acknowledge them")

        return refuse
    key = bytes.fromhex(operator_key.removeprefix("0x"))
    return functools.partial(_sign_with, key)


def _sign_with(key: bytes, digest: bytes) -> bytes:
    return sign(digest, key)

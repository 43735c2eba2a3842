"""Service tests: `world` runs the real services against anvil (SQLite and PostgreSQL);
`fake_world` runs them against the in-memory FakeHub and a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.chain.fake import FakeHub, FakeOperator
from app.core.eip712 import Domain
from app.core.receipts import Receipt
from app.core.types import Address, to_address
from app.services.events import MemoryBus
from app.services.indexer import Indexer
from app.store.database import Database
from tests.builders import accept, address, new_key

if TYPE_CHECKING:  # v1, until the lead's v2 Payments service and factories land
    from app.services.runtime import Services
    from tests.factories import Chain


class FakeClock:
    """Starts at the chain's time; tests move it explicitly."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    chain: Chain
    services: Services
    clock: FakeClock

    @property
    def token(self) -> Address:
        return to_address(self.chain.usdc.address)

    def fund(self, payer: str, amount: int) -> None:
        """Deposits `amount` for `payer` on chain and lets the indexer see it."""
        funder = self.chain.accounts[0]
        self.chain.send(self.chain.usdc.functions.approve(self.chain.hub.address, amount), funder)
        self.chain.send(self.chain.hub.functions.depositFor(payer, self.chain.usdc.address, amount), funder)
        self.services.indexer.sync_once()

    def sell(self, resource_id: str, price: int, creator: str | None = None) -> Address:
        payee = to_address(creator or self.chain.accounts[9].address)
        self.services.catalog.save(payee, resource_id, self.token, price, f"Title of {resource_id}")
        return payee


def new_payer() -> LocalAccount:
    return Account.create()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, chain: Chain, tmp_path: Path) -> Iterator[World]:
    from app import config
    from app.services import runtime
    from tests.e2e.servers import postgres_database

    with ExitStack() as stack:
        if request.param == "sqlite":
            database_url = f"sqlite:///{tmp_path / 'micropayments.db'}"
        else:
            database_url = stack.enter_context(postgres_database())
        settings = config.load(
            {
                "RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
                "HUB_ADDRESS": chain.hub.address,
                "DATABASE_URL": database_url,
                "DATA_DIR": str(tmp_path),
            }
        )
        clock = FakeClock(chain.timestamp())
        services = runtime.build(settings, clock=clock)
        stack.callback(services.close)
        services.indexer.sync_once()
        yield World(chain=chain, services=services, clock=clock)


TOKEN = to_address("0x" + "5c" * 20)


@dataclass
class FakeWorld:
    """The FakeHub, a migrated SQLite store, an indexer between them, and the operator's key."""

    hub: FakeHub
    db: Database
    clock: FakeClock
    operator: LocalAccount
    token: Address = TOKEN
    _sender: FakeOperator | None = None

    @property
    def sender(self) -> FakeOperator:
        """The operator's key sending to the fake hub (one per world: it keeps the nonces)."""
        if self._sender is None:
            self._sender = FakeOperator(self.hub)
        return self._sender

    @property
    def domain(self) -> Domain:
        return self.hub.domain

    def indexer(self, confirmations: int = 0) -> Indexer:
        return Indexer(self.db, self.hub, MemoryBus(), self.clock, start_block=0, confirmations=confirmations)

    def sync(self) -> None:
        self.indexer().sync_once()

    def fund(self, payer: LocalAccount | Address, amount: int) -> None:
        """Deposits on the hub and lets the indexer see it."""
        self.hub.deposit(payer if isinstance(payer, str) else address(payer), self.token, amount)
        self.sync()

    def pay(self, payer: LocalAccount, payee: Address, price: int, lane: int = 0, **options: Any) -> Receipt:
        """An accepted voucher in the store (see tests.builders.accept)."""
        return accept(self.db, self.domain, self.operator, payer, self.token, payee, price, lane=lane,
                      now=self.clock(), **options)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def fake_world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeWorld]:
    from tests.e2e.servers import postgres_database

    operator = new_key()
    hub = FakeHub(operator=address(operator))
    hub.allow_token(TOKEN)
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'fake.db'}"
        else:
            url = stack.enter_context(postgres_database())
        db = Database(url)
        stack.callback(db.dispose)
        db.migrate()
        yield FakeWorld(hub, db, FakeClock(hub.now), operator)

"""Real services (chain, database, indexer) for service tests, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app import config
from app.core.eip712 import Voucher, voucher_digest
from app.core.types import Address, to_address
from app.services import runtime
from app.services.payments import PayRequest
from app.services.runtime import Services
from tests.e2e.servers import postgres_database
from tests.factories import Chain, sign_digest


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

    def request(
        self,
        payer: LocalAccount,
        resource_id: str,
        cumulative: int,
        signer: LocalAccount | None = None,
        purchase: bytes | None = None,
    ) -> PayRequest:
        resource = self.services.catalog.resource(resource_id)
        assert resource is not None
        voucher = Voucher(
            payer=to_address(payer.address),
            payee=resource.payee,
            token=resource.token,
            cumulative_amount=cumulative,
            purchase=purchase or os.urandom(32),
        )
        signature = sign_digest((signer or payer).key, voucher_digest(self.services.domain, voucher))
        return PayRequest(voucher=voucher, signature=signature, resource_id=resource_id)


def new_payer() -> LocalAccount:
    return Account.create()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, chain: Chain, tmp_path: Path) -> Iterator[World]:
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

"""A real server (`python -m app serve`) with the example paid API mounted at /example, a funded
payer, and the example's resources listed by one creator at PRICE."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from app.core.types import to_address
from app.examples import paid_api
from tests.e2e.conftest import open_marketplace, server_env, server_services
from tests.e2e.servers import Server
from tests.factories import Chain

PRICE = 10_000
DEPOSIT = 1_000_000


@dataclass(frozen=True)
class PaidApi:
    url: str  # the example's root
    payer: LocalAccount
    creator: LocalAccount
    chain: Chain

    def headroom(self) -> int:
        query = "query($p: Address!, $t: Address!) { account(payer: $p, token: $t) { headroom } }"
        variables = {"p": self.payer.address, "t": self.chain.usdc.address}
        body = httpx.post(
            self.url.removesuffix("/example") + "/graphql", json={"query": query, "variables": variables}
        )
        return int(body.json()["data"]["account"]["headroom"])


@pytest.fixture
def api(chain: Chain, tmp_path: Path) -> Iterator[PaidApi]:
    env = {
        **server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path)),
        "EXAMPLE_PAID_API": "1",
    }
    market = open_marketplace(chain, env, payers=1, creators=1, price=PRICE, deposit=DEPOSIT)
    creator = market.creators[0]
    with server_services(env) as services:
        paid_api.seed(services.catalog, to_address(creator.address), to_address(chain.usdc.address), PRICE)
    server = Server(env, tmp_path / "server.log").start()
    try:
        yield PaidApi(server.url + "/example", market.payers[0], creator, chain)
    finally:
        server.stop()

"""End-to-end fixtures: funded payers, creators with resources, and pay requests signed by real keys."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app import config
from app.core.eip712 import Entry, PayerVoucher, digest
from app.core.types import to_address
from app.services import runtime
from app.services.runtime import Services
from tests.factories import Chain, sign_digest

PAY = """
mutation Pay($input: PayInput!, $key: String) {
  pay(input: $input, idempotencyKey: $key) {
    __typename
    ... on PaymentAccepted { receipt { id cumulativeAmount } }
    ... on Refused { code message }
    ... on InsufficientFunds { code message }
    ... on CumulativeMismatch { code message }
  }
}
"""


def server_env(chain: Chain, database_url: str, data_dir: str) -> dict[str, str]:
    return {
        "RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "HUB_ADDRESS": chain.hub.address,
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "CONFIRMATIONS": "0",
        "INDEX_INTERVAL_MS": "200",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "LOG_LEVEL": "WARNING",
    }


def serve_as_operator(chain: Chain, key: str) -> dict[str, str]:
    """OPERATOR_KEY for a server whose key the hub names its operator: in v2 the hub pays only
    claims the operator sent or acknowledged (the session's hub is deployed with its owner)."""
    chain.send(chain.hub.functions.setOperator(Account.from_key(key).address), chain.owner)
    return {"OPERATOR_KEY": key}


@dataclass(frozen=True)
class Marketplace:
    payers: list[LocalAccount]
    creators: list[LocalAccount]
    price: int


@contextmanager
def server_services(env: dict[str, str]) -> Iterator[Services]:
    """The services a server started with `env` would have, indexed up to the chain's head:
    for setting up what a test's server will find in its database."""
    services = runtime.build(config.load({**os.environ, **env}))
    try:
        services.indexer.sync_once()
        yield services
    finally:
        services.close()


def open_marketplace(
    chain: Chain,
    env: dict[str, str],
    payers: int,
    creators: int | list[LocalAccount],
    price: int,
    deposit: int,
) -> Marketplace:
    """Payers with `deposit` each on chain, creators each selling one resource (`article-<n>`)
    at `price`, all indexed by a server built on `env`'s database."""
    payer_keys = [Account.create() for _ in range(payers)]
    creator_keys = creators if isinstance(creators, list) else [Account.create() for _ in range(creators)]
    funder = chain.accounts[0]
    chain.send(chain.usdc.functions.approve(chain.hub.address, deposit * payers), funder)
    for payer in payer_keys:
        chain.send(chain.hub.functions.depositFor(payer.address, chain.usdc.address, deposit), funder)
    with server_services(env) as services:
        token = to_address(chain.usdc.address)
        for index, creator in enumerate(creator_keys):
            services.catalog.save(
                to_address(creator.address), f"article-{index}", token, price, f"Article {index}"
            )
    return Marketplace(payers=payer_keys, creators=creator_keys, price=price)


def pay_input(
    chain: Chain, payer: LocalAccount, creator_index: int, creator: str, cumulative: int
) -> dict[str, Any]:
    voucher = PayerVoucher(
        payer=to_address(payer.address),
        token=to_address(chain.usdc.address),
        lane=0,
        entries=(Entry(to_address(creator), cumulative),),
        purchase=os.urandom(32),
    )
    signature = sign_digest(payer.key, digest(chain.domain, voucher))
    return {
        "payer": voucher.payer,
        "token": voucher.token,
        "lane": "0",
        "entries": [{"payee": to_address(creator), "cumulativeAmount": str(cumulative)}],
        "purchase": "0x" + voucher.purchase.hex(),
        "signature": "0x" + signature.hex(),
        "resourceId": f"article-{creator_index}",
    }


async def send_all(
    urls: Sequence[str], inputs: Sequence[dict[str, Any]], concurrency: int = 32
) -> list[dict[str, Any] | None]:
    """POSTs every pay, spread over `urls`, at most `concurrency` at a time. None for a request
    that got no answer (connection refused or reset: the server was killed)."""
    limit = asyncio.Semaphore(concurrency)
    results: list[dict[str, Any] | None] = [None] * len(inputs)

    async def one(client: httpx.AsyncClient, index: int) -> None:
        async with limit:
            url = urls[index % len(urls)] + "/graphql"
            try:
                response = await client.post(url, json={"query": PAY, "variables": {"input": inputs[index]}})
            except httpx.HTTPError:
                return
            if response.status_code == 200:
                results[index] = response.json()["data"]["pay"]

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(one(client, i) for i in range(len(inputs))))
    return results

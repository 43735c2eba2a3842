"""End-to-end fixtures: funded payers, creators with resources, and pay requests signed by real keys.

A payer's vouchers are built offline, before any server runs, as a wallet would sign them: each
extends its lane's last vector (`Vouchers` remembers it per payer and lane), so the pays of one
lane are sent in order (`send_all` takes lanes of pays) and different lanes in parallel.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app import config
from app.core import ledger
from app.core.eip712 import Acknowledgement, Domain, Entries, Entry, PayerVoucher, digest
from app.core.signatures import recover
from app.core.types import Address, to_address
from app.services import runtime
from app.services.runtime import Services
from tests.factories import Chain, sign

PAY = """
mutation Pay($input: PayInput!, $key: String) {
  pay(input: $input, idempotencyKey: $key) {
    __typename
    ... on PaymentAccepted { receipt { id lane cumulativeAmount acknowledgement } }
    ... on Refused { code message }
    ... on InsufficientFunds { code message }
    ... on CumulativeMismatch { code message }
  }
}
"""


def server_env(chain: Chain, database_url: str, data_dir: str) -> dict[str, str]:
    """A server on the test chain. Its OPERATOR_KEY is the hub's operator (the owner, who deployed
    it), whose acknowledgements the hub honours; it settles only when a test says so (SETTLE)."""
    return {
        "RPC_URL": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "HUB_ADDRESS": chain.hub.address,
        "DATABASE_URL": database_url,
        "DATA_DIR": data_dir,
        "CONFIRMATIONS": "0",
        "INDEX_INTERVAL_MS": "200",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "LOG_LEVEL": "WARNING",
        "OPERATOR_KEY": "0x" + bytes(chain.owner.key).hex(),
        "SETTLE": "false",
    }


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


@dataclass
class Vouchers:
    """Signs each payer's next voucher on a lane: the lane's last vector with the creator's amount
    raised by the price (docs/protocol.md), remembered per (payer, lane) in the order built."""

    chain: Chain
    vectors: dict[tuple[Address, int], Entries] = field(default_factory=dict)

    @cached_property
    def domain(self) -> Domain:
        return self.chain.domain

    def pay_input(
        self, payer: LocalAccount, lane: int, creator_index: int, creator: str, price: int
    ) -> dict[str, Any]:
        """The PayInput of `payer` buying `article-<creator_index>` of `creator` at `price` on `lane`."""
        key = (to_address(payer.address), lane)
        entries = ledger.raised(self.vectors.get(key, ()), to_address(creator), price)
        self.vectors[key] = entries
        voucher = PayerVoucher(
            payer=key[0],
            token=to_address(self.chain.usdc.address),
            lane=lane,
            entries=entries,
            purchase=os.urandom(32),
        )
        signature = sign(payer.key, self.domain, voucher)
        return {
            "payer": voucher.payer,
            "token": voucher.token,
            "lane": str(lane),
            "entries": [{"payee": e.payee, "cumulativeAmount": str(e.cumulative_amount)} for e in entries],
            "purchase": "0x" + voucher.purchase.hex(),
            "signature": "0x" + signature.hex(),
            "resourceId": f"article-{creator_index}",
        }


def acknowledged_by(domain: Domain, pay: dict[str, Any], receipt: dict[str, Any]) -> Address | None:
    """Who signed the receipt's acknowledgement of the voucher `pay` sent."""
    voucher = PayerVoucher(
        payer=to_address(pay["payer"]),
        token=to_address(pay["token"]),
        lane=int(pay["lane"]),
        entries=tuple(Entry(to_address(e["payee"]), int(e["cumulativeAmount"])) for e in pay["entries"]),
        purchase=bytes.fromhex(pay["purchase"][2:]),
    )
    acknowledgement = Acknowledgement(digest(domain, voucher))
    return recover(digest(domain, acknowledgement), bytes.fromhex(receipt["acknowledgement"][2:]))


SHED_RETRIES = 30  # a loaded machine may shed a pay (503 OVERLOADED) several times


async def send_all(
    urls: Sequence[str], lanes: Sequence[Sequence[dict[str, Any]]], concurrency: int = 32
) -> list[dict[str, Any] | None]:
    """POSTs every pay: each lane's pays one after another (each extends the last), lanes in
    parallel, spread over `urls`, at most `concurrency` requests at a time, again after
    `Retry-After` when a server sheds one (503). The results in the order of the lanes and their
    pays; None for a pay that got no answer (connection refused or reset: the server was killed)."""
    limit = asyncio.Semaphore(concurrency)
    ends = list(accumulate(len(lane) for lane in lanes))
    starts = [0, *ends][:-1]
    results: list[dict[str, Any] | None] = [None] * (ends[-1] if ends else 0)

    async def one(client: httpx.AsyncClient, index: int, pay: dict[str, Any]) -> None:
        async with limit:
            url = urls[index % len(urls)] + "/graphql"
            body = {"query": PAY, "variables": {"input": pay}}
            for _ in range(SHED_RETRIES):
                try:
                    response = await client.post(url, json=body)
                except httpx.HTTPError:
                    return
                if response.status_code != 503:
                    break
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            if response.status_code == 200:
                results[index] = response.json()["data"]["pay"]

    async def in_order(client: httpx.AsyncClient, start: int, pays: Sequence[dict[str, Any]]) -> None:
        for offset, pay in enumerate(pays):
            await one(client, start + offset, pay)

    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(*(in_order(client, s, lane) for s, lane in zip(starts, lanes, strict=True)))
    return results

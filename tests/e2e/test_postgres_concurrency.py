"""Two server processes on one PostgreSQL never accept beyond a payer's headroom."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.e2e.conftest import open_marketplace, pay_input, send_all, server_env
from tests.e2e.servers import Server, postgres_database
from tests.factories import Chain

PAYERS = 10
CREATORS = 100
PRICE = 10_000
AFFORDABLE = 37  # each payer's deposit covers exactly this many pays


def test_two_servers_accept_exactly_what_the_headroom_allows(chain: Chain, tmp_path: Path) -> None:
    with postgres_database() as database_url:
        env = server_env(chain, database_url, str(tmp_path))
        market = open_marketplace(
            chain, env, PAYERS, CREATORS, PRICE, deposit=AFFORDABLE * PRICE + PRICE // 2
        )
        # Every payer pays every creator once: 1,000 first vouchers on 1,000 channels, all at once.
        inputs = [
            pay_input(chain, payer, index, creator.address, PRICE)
            for payer in market.payers
            for index, creator in enumerate(market.creators)
        ]
        servers = [Server(env, tmp_path / f"server-{n}.log").start() for n in range(2)]
        try:
            results = asyncio.run(send_all([s.url for s in servers], inputs, concurrency=48))
        finally:
            for server in servers:
                server.stop()

    assert all(result is not None for result in results), "every request got an answer"
    kinds = Counter(result["__typename"] for result in results if result)
    assert kinds == {
        "PaymentAccepted": PAYERS * AFFORDABLE,
        "InsufficientFunds": PAYERS * (CREATORS - AFFORDABLE),
    }
    accepted_per_payer = Counter(
        inputs[i]["payer"]
        for i, result in enumerate(results)
        if result and result["__typename"] == "PaymentAccepted"
    )
    assert set(accepted_per_payer.values()) == {AFFORDABLE}

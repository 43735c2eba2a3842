"""Two server processes on one PostgreSQL never accept beyond a payer's headroom: a payer's pays,
on however many lanes and through whichever process, are decided one after another under the
lock of its account row, and every acknowledged receipt is durable."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from app.core.types import to_address
from app.store import payments
from app.store.database import Database
from tests.e2e.conftest import Vouchers, open_marketplace, send_all, server_env
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
        # Every payer pays every creator once, each on a lane of its own so that none waits for
        # another: 1,000 first vouchers on 1,000 lanes, all at once, 100 against each account.
        vouchers = Vouchers(chain)
        inputs = [
            vouchers.pay_input(payer, index, index, creator.address, PRICE)
            for payer in market.payers
            for index, creator in enumerate(market.creators)
        ]
        servers = [Server(env, tmp_path / f"server-{n}.log").start() for n in range(2)]
        try:
            results = asyncio.run(send_all([s.url for s in servers], [[i] for i in inputs], concurrency=48))
        finally:
            for server in servers:
                server.stop()

        database = Database(database_url)
        try:
            with database.read() as conn:
                acknowledged = [r["receipt"] for r in results if r and r["__typename"] == "PaymentAccepted"]
                assert all(payments.get_receipt(conn, r["id"]) is not None for r in acknowledged)
                assert payments.count_receipts(conn) == len(acknowledged)
                token = to_address(chain.usdc.address)
                for payer in market.payers:
                    account = payments.get_account(conn, to_address(payer.address), token)
                    assert account is not None
                    assert account.outstanding == AFFORDABLE * PRICE
        finally:
            database.dispose()

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


def test_two_servers_never_both_accept_two_vouchers_that_extend_the_same_vector(
    chain: Chain, tmp_path: Path
) -> None:
    lanes_per_payer = 50
    with postgres_database() as database_url:
        env = server_env(chain, database_url, str(tmp_path))
        market = open_marketplace(chain, env, PAYERS, 2, PRICE, deposit=2 * lanes_per_payer * PRICE)
        # Two wallets of one payer race on each fresh lane: one pays the first creator, the other
        # the second, both from the empty vector, one through each server at the same moment.
        first, second = Vouchers(chain), Vouchers(chain)
        races = [
            [
                [first.pay_input(payer, lane, 0, market.creators[0].address, PRICE)],
                [second.pay_input(payer, lane, 1, market.creators[1].address, PRICE)],
            ]
            for payer in market.payers
            for lane in range(lanes_per_payer)
        ]
        servers = [Server(env, tmp_path / f"server-{n}.log").start() for n in range(2)]
        try:
            sent = [fork for race in races for fork in race]  # even: the first server; odd: the second
            results = asyncio.run(send_all([s.url for s in servers], sent, concurrency=48))
        finally:
            for server in servers:
                server.stop()

        database = Database(database_url)
        try:
            with database.read() as conn:
                token = to_address(chain.usdc.address)
                for payer in market.payers:
                    account = payments.get_account(conn, to_address(payer.address), token)
                    assert account is not None
                    assert account.outstanding == lanes_per_payer * PRICE
        finally:
            database.dispose()

    outcomes = Counter(
        tuple(sorted(r["__typename"] if r else "no answer" for r in results[i : i + 2]))
        for i in range(0, len(results), 2)
    )
    assert outcomes == {("CumulativeMismatch", "PaymentAccepted"): PAYERS * lanes_per_payer}

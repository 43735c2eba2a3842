"""A server killed with SIGKILL in the middle of 1,000 pays loses no acknowledged receipt and,
once restarted, charges nothing twice and takes each lane up where its last acknowledged voucher
left it."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from app.core.eip712 import MAX_LANE_ENTRIES
from app.core.types import to_address
from app.store import payments
from app.store.database import Database
from tests.e2e.conftest import Vouchers, open_marketplace, send_all, server_env
from tests.e2e.servers import Server
from tests.factories import Chain

PAYERS = 10
CREATORS = 100
PRICE = 1_000


def test_acknowledged_receipts_survive_a_kill_and_are_never_charged_twice(
    chain: Chain, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'micropayments.db'}"
    env = server_env(chain, database_url, str(tmp_path))
    market = open_marketplace(chain, env, PAYERS, CREATORS, PRICE, deposit=CREATORS * PRICE)
    # Each payer's wallet pays the 100 creators once, 32 to a lane (a lane's most): 4 lanes each,
    # every voucher extending its lane's last.
    vouchers = Vouchers(chain)
    lanes = [
        [
            vouchers.pay_input(payer, lane, index, market.creators[index].address, PRICE)
            for index in range(first, min(first + MAX_LANE_ENTRIES, CREATORS))
        ]
        for payer in market.payers
        for lane, first in enumerate(range(0, CREATORS, MAX_LANE_ENTRIES))
    ]
    inputs = [pay for lane in lanes for pay in lane]

    database = Database(database_url)
    server = Server(env, tmp_path / "server.log").start()
    results: list[Any] = []
    sender = threading.Thread(target=lambda: results.extend(asyncio.run(send_all([server.url], lanes))))
    sender.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _receipts(database) < 300:
        time.sleep(0.02)
    server.kill()
    sender.join()

    acknowledged = {
        i: result["receipt"]["id"]
        for i, result in enumerate(results)
        if result and result["__typename"] == "PaymentAccepted"
    }
    assert 0 < len(acknowledged) < len(inputs), "the kill landed in the middle of the run"
    with database.read() as conn:
        assert all(payments.get_receipt(conn, receipt) is not None for receipt in acknowledged.values())

    restarted = Server(env, tmp_path / "server-restarted.log").start()
    try:
        replayed = asyncio.run(send_all([restarted.url], lanes))
    finally:
        restarted.stop()

    assert all(r is not None and r["__typename"] == "PaymentAccepted" for r in replayed)
    for i, receipt in acknowledged.items():
        assert replayed[i]["receipt"]["id"] == receipt  # type: ignore[index]
    with database.read() as conn:
        assert payments.count_receipts(conn) == len(inputs)
        token = to_address(chain.usdc.address)
        for payer in market.payers:
            account = payments.get_account(conn, to_address(payer.address), token)
            assert account is not None
            assert account.outstanding == CREATORS * PRICE
    database.dispose()


def _receipts(database: Database) -> int:
    with database.read() as conn:
        return payments.count_receipts(conn)

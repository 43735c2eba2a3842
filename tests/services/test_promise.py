"""The one promise, end to end on the FakeHub: what the server acknowledges (the v2 Payments
service, real signatures), the settler claims and the chain pays, in full."""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import cast

from eth_account.signers.local import LocalAccount
from sqlalchemy import select

from app.chain.operator import Operator
from app.core import ledger
from app.core.eip712 import PayerVoucher, SessionGrant, digest
from app.core.receipts import ReceiptStatus
from app.core.signatures import sign
from app.core.types import Address
from app.services.catalog import Catalog
from app.services.events import MemoryBus
from app.services.payments import Payments, PayRequest
from app.services.reconcile import reconcile
from app.services.session_keys import SessionKeys
from app.services.settler import SettlePolicy, Settler
from app.services.transactions import TxManager
from app.store import payments as store
from app.store.tables import accounts, receipts
from tests.builders import address, new_key
from tests.services.conftest import FakeWorld

DEPOSIT = 10**9


def test_every_acknowledged_voucher_is_paid_in_full(fake_world: FakeWorld) -> None:
    world, rng = fake_world, random.Random(7)
    margin = 600
    payments = Payments(world.db, world.domain, world.clock, MemoryBus(), margin,
                        acknowledge=lambda d: sign(d, world.operator.key))  # fmt: skip
    keys = SessionKeys(world.db, world.domain, world.clock, settle_margin=margin)
    catalog = Catalog(world.db, world.clock)
    creators = [address(new_key()) for _ in range(5)]
    prices = {f"article-{i}": (creator, 1_000 * (i + 1)) for i, creator in enumerate(creators)}
    world.sync()  # the token's listing
    for resource, (creator, price) in prices.items():
        catalog.save(creator, resource, world.token, price, resource)
    payers = [new_key() for _ in range(3)]
    signers: dict[tuple[Address, int], LocalAccount] = {}
    for payer in payers:
        world.fund(payer, DEPOSIT)
        signers[(address(payer), 0)] = payer
        key = new_key()
        grant = SessionGrant(address(payer), address(key), world.token, 1, 10**12, world.hub.now + 86_400)
        keys.authorize(grant, sign(digest(world.domain, grant), payer.key))
        signers[(address(payer), 1)] = key
    owed: Counter[Address] = Counter()
    try:
        for _ in range(60):
            payer = rng.choice(payers)
            lane = rng.choice([0, 1])
            resource = rng.choice(list(prices))
            creator, price = prices[resource]
            with world.db.read() as conn:
                previous = store.lane_vector(conn, address(payer), world.token, lane)
            voucher = PayerVoucher(address(payer), world.token, lane, ledger.raised(previous, creator, price),
                                   os.urandom(32))  # fmt: skip
            signature = sign(digest(world.domain, voucher), signers[(address(payer), lane)].key)
            payments.pay(PayRequest(voucher, signature, resource))
            owed[creator] += price
            if rng.random() < 0.2:  # settle now and then, mid-stream
                settle(world)
        settle(world)
    finally:
        payments.close()
    for creator in creators:
        assert world.hub.earnings_of(creator, world.token) == owed[creator]
    with world.db.read() as conn:
        assert {row.status for row in conn.execute(select(receipts.c.status))} == {
            ReceiptStatus.CLAIMED.value
        }
        assert {row.outstanding for row in conn.execute(select(accounts.c.outstanding))} == {0}
    assert sum(world.hub.balance_of(address(p), world.token) for p in payers) == 3 * DEPOSIT - sum(
        owed.values()
    )
    (report,) = reconcile(world.hub, world.db, from_block=0)
    assert report.ok, report.as_json()


def settle(world: FakeWorld) -> None:
    transactions = TxManager(world.db, cast(Operator, world.sender), world.clock)
    result = Settler(world.db, world.hub, transactions, world.clock, SettlePolicy()).settle_once(force=True)
    assert result.blocked == 0, result
    transactions.tick()
    world.sync()

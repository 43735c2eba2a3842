"""Reconciliation on the FakeHub: every base unit accounted for, and the index agrees."""

from __future__ import annotations

from typing import cast

from app.chain.operator import Operator
from app.core.types import to_address
from app.services.reconcile import reconcile
from app.services.settler import SettlePolicy, Settler
from app.services.transactions import TxManager
from app.store.tables import lane_entries
from tests.builders import address, new_key
from tests.services.conftest import FakeWorld

A = to_address("0x" + "aa" * 20)


def test_deposits_claims_and_withdrawals_reconcile(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 10_000)
    world.pay(payer, A, 300)
    world.pay(payer, A, 200, lane=1)
    transactions = TxManager(world.db, cast(Operator, world.sender), world.clock)
    Settler(world.db, world.hub, transactions, world.clock, SettlePolicy()).settle_once(force=True)
    world.hub.withdraw_earnings(A, world.token, A)
    world.hub.request_withdrawal(address(payer), world.token, 1_000)
    world.hub.advance(world.hub.withdraw_delay())
    world.hub.withdraw(address(payer), world.token)
    world.sync()
    (report,) = reconcile(world.hub, world.db, from_block=0)
    assert report.ok, report.as_json()
    assert (report.deposits, report.earnings_paid, report.withdrawals, report.balances_left) == (
        10_000, 500, 1_000, 8_500,
    )  # fmt: skip


def test_a_lane_whose_claimed_vector_differs_from_the_chain_is_reported(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 10_000)
    world.pay(payer, A, 300)
    transactions = TxManager(world.db, cast(Operator, world.sender), world.clock)
    Settler(world.db, world.hub, transactions, world.clock, SettlePolicy()).settle_once(force=True)
    world.sync()
    with world.db.transaction() as conn:
        conn.execute(lane_entries.update().values(claimed=299))
    (report,) = reconcile(world.hub, world.db, from_block=0)
    assert report.balanced
    assert report.index_mismatches == [
        f"lane 0 of payer {address(payer)}: the index's claimed vector is not the chain's commitment"
    ]

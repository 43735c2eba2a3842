"""Batch settlement of lanes by policy, against the FakeHub: claims become creators' earnings,
and a block the chain would skip is never sent."""

from __future__ import annotations

from typing import Any, cast

from eth_abi.abi import decode
from sqlalchemy import select

from app.chain.fake import FakeOperator
from app.chain.operator import Operator
from app.core.claims import decode_claim, encode_claim
from app.core.receipts import Receipt, ReceiptStatus
from app.core.types import Address, to_address
from app.services.settler import SettlePolicy, Settler
from app.services.transactions import TxManager
from app.store import payments
from app.store.tables import accounts, lanes, receipts
from tests.builders import accept, address, entries, make_block, make_grant, new_key
from tests.services.conftest import FakeWorld

PRICE = 1_000


def settler(world: FakeWorld, operator: FakeOperator | None = None, **policy: int) -> Settler:
    sender = operator or world.sender
    transactions = TxManager(world.db, cast(Operator, sender), world.clock)
    return Settler(world.db, world.hub, transactions, world.clock, SettlePolicy(**policy))


def creator(index: int) -> Address:
    return to_address(f"0x{index + 1:040x}")


def lane_of(world: FakeWorld, receipt: Receipt) -> Any:
    with world.db.read() as conn:
        return conn.execute(
            select(lanes).where(lanes.c.payer == receipt.payer, lanes.c.token == receipt.token,
                                lanes.c.lane == receipt.lane)
        ).one()  # fmt: skip


def status(world: FakeWorld, receipt: Receipt) -> str:
    with world.db.read() as conn:
        return str(conn.execute(select(receipts.c.status).where(receipts.c.id == receipt.id)).scalar_one())


def settle(world: FakeWorld, s: Settler, force: bool = False) -> int:
    result = s.settle_once(force=force)
    s.transactions.tick()
    world.sync()
    return result.lanes


def test_a_small_batch_waits_and_a_full_one_is_claimed_in_one_transaction(fake_world: FakeWorld) -> None:
    world = fake_world
    payers = [new_key() for _ in range(3)]
    for payer in payers:
        world.fund(payer, 100 * PRICE)
        for lane in range(4):
            world.pay(payer, creator(lane), PRICE, lane=lane)
            world.pay(payer, creator(lane + 10), 2 * PRICE, lane=lane)
    assert settler(world, min_batch=13, max_age=10**9).settle_once().submitted == ()  # 12 lanes: not yet
    head = world.hub.head()
    assert settle(world, settler(world, min_batch=12, max_age=10**9)) == 12
    assert world.hub.head() == head + 1  # one transaction
    for payer in payers:
        with world.db.read() as conn:
            account = payments.get_account(conn, address(payer), world.token)
        assert account is not None
        assert (account.balance, account.outstanding) == (100 * PRICE - 12 * PRICE, 0)
    assert world.hub.earnings_of(creator(10), world.token) == 3 * 2 * PRICE
    with world.db.read() as conn:
        assert {row.status for row in conn.execute(select(receipts.c.status))} == {
            ReceiptStatus.CLAIMED.value
        }


def test_an_old_voucher_is_claimed_even_alone(fake_world: FakeWorld) -> None:
    payer = new_key()
    fake_world.fund(payer, 10 * PRICE)
    fake_world.pay(payer, creator(0), PRICE)
    s = settler(fake_world, min_batch=100, max_age=60)
    assert s.settle_once().submitted == ()
    fake_world.clock.now += 61
    assert settle(fake_world, s) == 1


def test_a_lane_claimed_before_is_claimed_from_its_claimed_vector(fake_world: FakeWorld) -> None:
    payer = new_key()
    fake_world.fund(payer, 10 * PRICE)
    fake_world.pay(payer, creator(0), PRICE)
    assert settle(fake_world, settler(fake_world), force=True) == 1
    receipt = fake_world.pay(payer, creator(1), PRICE)
    assert settle(fake_world, settler(fake_world), force=True) == 1
    assert status(fake_world, receipt) == ReceiptStatus.CLAIMED
    assert fake_world.hub.balance_of(address(payer), fake_world.token) == 8 * PRICE


def test_a_withdrawal_request_makes_the_payers_lanes_urgent(fake_world: FakeWorld) -> None:
    payer = new_key()
    fake_world.fund(payer, 50 * PRICE)
    fake_world.pay(payer, creator(0), PRICE)
    s = settler(fake_world, min_batch=100, max_age=10**9, urgency=1800)
    assert s.settle_once().submitted == ()
    fake_world.hub.request_withdrawal(address(payer), fake_world.token, 10 * PRICE)  # available in 3600 s
    fake_world.sync()
    assert s.settle_once().submitted == ()
    fake_world.hub.advance(1800)
    fake_world.hub.mine()
    assert settle(fake_world, s) == 1


def test_a_keys_expiry_makes_its_lane_urgent(fake_world: FakeWorld) -> None:
    world, payer, key = fake_world, new_key(), new_key()
    world.fund(payer, 50 * PRICE)
    grant = make_grant(world.domain, payer, key, world.token, 3, valid_until=world.hub.now + 1000)
    receipt = world.pay(payer, creator(0), PRICE, lane=3, key=key, grant=grant)
    assert settle(world, settler(world, min_batch=100, max_age=10**9, urgency=1800)) == 1
    assert status(world, receipt) == ReceiptStatus.CLAIMED


def test_a_lane_in_a_pending_claim_is_not_claimed_again(fake_world: FakeWorld) -> None:
    payer = new_key()
    fake_world.fund(payer, 10 * PRICE)
    fake_world.pay(payer, creator(0), PRICE, lane=0)
    fake_world.pay(payer, creator(1), PRICE, lane=1)
    operator = fake_world.sender
    operator.hold()
    s = settler(fake_world, operator)
    assert s.settle_once(force=True).lanes == 2
    assert s.settle_once(force=True).lanes == 0  # both still in the pending transaction
    operator.release()
    s.transactions.tick()
    fake_world.sync()
    assert fake_world.hub.balance_of(address(payer), fake_world.token) == 8 * PRICE


def test_a_lane_the_chain_would_skip_is_blocked_not_sent_until_a_deposit(fake_world: FakeWorld) -> None:
    world, poor, rich = fake_world, new_key(), new_key()
    world.fund(poor, PRICE)
    world.fund(rich, 10 * PRICE)
    # The chain's balance fell below what was accepted (say, a withdrawal the index had not seen).
    starved = world.pay(poor, creator(0), 2 * PRICE)
    world.pay(rich, creator(0), PRICE)
    head = world.hub.head()
    result = settler(world).settle_once(force=True)
    assert (result.lanes, result.blocked) == (1, 1)
    (claim,) = world.hub.events(head + 1, world.hub.head())[:1]
    world.sync()
    assert lane_of(world, starved).blocked == "INSUFFICIENT_BALANCE"
    assert all(
        getattr(e, "payer", None) != address(poor) for e in world.hub.events(head + 1, world.hub.head())
    )
    assert settler(world).settle_once(force=True).lanes == 0  # blocked: not sent again
    world.fund(poor, 5 * PRICE)
    assert settle(world, settler(world), force=True) == 1
    assert status(world, starved) == ReceiptStatus.CLAIMED
    assert claim is not None


def test_a_lane_claimed_elsewhere_first_is_blocked_as_a_previous_mismatch(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 10 * PRICE)
    receipt = world.pay(payer, creator(0), PRICE)
    other = make_block(world.domain, payer, address(payer), world.token, 0, entries((creator(0), 10)))
    world.hub.claim(world.hub.operator(), world.token, encode_claim([other]))  # not indexed yet
    result = settler(world).settle_once(force=True)
    assert (result.lanes, result.blocked) == (0, 1)
    with world.db.read() as conn:
        blocked = conn.execute(select(lanes.c.blocked).where(lanes.c.payer == receipt.payer)).scalar_one()
    assert blocked == "PREVIOUS_MISMATCH"


def test_a_revoked_keys_lane_is_blocked_with_the_chains_reason(fake_world: FakeWorld) -> None:
    world, payer, key = fake_world, new_key(), new_key()
    world.fund(payer, 10 * PRICE)
    grant = make_grant(world.domain, payer, key, world.token, 1)
    receipt = world.pay(payer, creator(0), PRICE, lane=1, key=key, grant=grant)
    world.hub.revoke_signer(address(payer), address(key))
    world.hub.advance(world.hub.withdraw_delay() + 1)
    world.hub.mine()
    world.sync()
    assert settler(world).settle_once(force=True).blocked == 1
    assert lane_of(world, receipt).blocked == "SIGNER_REVOKED"


def test_claims_wait_once_the_gas_of_the_last_hour_is_spent(fake_world: FakeWorld) -> None:
    payer = new_key()
    fake_world.fund(payer, 10 * PRICE)
    fake_world.pay(payer, creator(0), PRICE, lane=0)
    s = settler(fake_world, max_gas_per_hour=1)
    assert s.settle_once(force=True).lanes == 1
    fake_world.pay(payer, creator(1), PRICE, lane=1)
    deferred = s.settle_once(force=True)
    assert (deferred.lanes, deferred.submitted) == (0, ())
    assert "SETTLE_MAX_GAS_PER_HOUR" in deferred.reason
    fake_world.clock.now += 3601
    assert s.settle_once(force=True).lanes == 1


def test_a_claim_carries_at_most_255_distinct_payees(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 10**9)
    for lane in range(9):  # 9 lanes x 32 new payees = 288
        for index in range(32):
            world.pay(payer, creator(lane * 32 + index), 1, lane=lane)
    head = world.hub.head()
    assert settler(world).settle_once(force=True).lanes == 7
    (claimed,) = {e.at.tx_hash for e in world.hub.events(head + 1, world.hub.head())}
    assert claimed
    world.sync()
    assert settle(world, settler(world), force=True) == 2


def test_each_token_is_claimed_in_its_own_transaction(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    other = to_address("0x" + "6d" * 20)
    world.hub.allow_token(other)
    world.fund(payer, 10 * PRICE)
    world.hub.deposit(address(payer), other, 10 * PRICE)
    world.sync()
    world.pay(payer, creator(0), PRICE)
    accept(world.db, world.domain, world.operator, payer, other, creator(0), PRICE)
    result = settler(world).settle_once(force=True)
    assert (result.lanes, len(result.submitted)) == (2, 2)
    world.sync()
    with world.db.read() as conn:
        assert {r.outstanding for r in conn.execute(select(accounts.c.outstanding))} == {0}


def test_the_sent_claim_decodes_to_the_lanes_latest_vouchers(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 10 * PRICE)
    world.pay(payer, creator(0), PRICE)
    world.pay(payer, creator(1), 2 * PRICE)
    s = settler(world)
    s.settle_once(force=True)
    tx = s.transactions.get(0)
    assert tx is not None
    token, data = decode(["address", "bytes"], tx.data[4:])
    (block,) = decode_claim(bytes(data), to_address(token))
    assert block.voucher.entries == entries((creator(0), PRICE), (creator(1), 2 * PRICE))
    assert block.previous == ()
    assert (block.grant, block.acknowledgement) == (None, None)

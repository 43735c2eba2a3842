"""Batch settlement by policy, against the real chain: vouchers become creators' earnings."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from app.chain.operator import Operator
from app.core.receipts import ReceiptStatus
from app.core.types import to_address
from app.services.settler import SettlePolicy, Settler
from app.services.transactions import TxManager
from tests.services.conftest import World, new_payer

PRICE = 1_000


def settler(world: World, **policy: int) -> Settler:
    operator = Operator.connect(
        world.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        world.chain.hub.address,
        world.chain.accounts[0].key.hex(),
    )
    transactions = TxManager(world.services.db, operator, world.clock)
    return Settler(world.services.db, transactions, world.clock, SettlePolicy(**policy))


def settle_and_index(world: World, s: Settler, force: bool = False) -> int:
    result = s.settle_once(force=force)
    if result.submitted is not None:
        s.transactions.wait(result.submitted.nonce)
    world.services.indexer.sync_once()
    return result.channels


def pay_many(world: World, payers: list[LocalAccount], creators: int) -> None:
    for index in range(creators):
        world.sell(f"article-{index}", PRICE, creator=new_payer().address)
    for payer in payers:
        world.fund(payer.address, 100 * PRICE)
        for index in range(creators):
            world.services.payments.pay(world.request(payer, f"article-{index}", PRICE))
            world.services.payments.pay(world.request(payer, f"article-{index}", 2 * PRICE))


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_small_batch_waits_and_a_full_one_is_claimed_in_one_transaction(world: World) -> None:
    payers = [new_payer() for _ in range(3)]
    pay_many(world, payers, creators=4)
    waiting = settler(world, min_batch=13, max_age=10**9)
    assert waiting.settle_once().submitted is None  # 12 channels: not yet
    ready = settler(world, min_batch=12, max_age=10**9)
    assert settle_and_index(world, ready) == 12
    for payer in payers:
        account = world.services.accounts.account(to_address(payer.address), world.token)
        assert (account.balance, account.outstanding) == (100 * PRICE - 4 * 2 * PRICE, 0)
    receipts = world.services.accounts.receipts(payer=to_address(payers[0].address))
    assert {r.status for _, r in receipts} == {ReceiptStatus.CLAIMED}


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_an_old_voucher_is_claimed_even_alone(world: World) -> None:
    pay_many(world, [new_payer()], creators=1)
    s = settler(world, min_batch=100, max_age=60)
    assert s.settle_once().submitted is None
    world.clock.now += 61
    assert settle_and_index(world, s) == 1


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_withdrawal_request_makes_the_payers_vouchers_urgent(world: World) -> None:
    payer = world.chain.accounts[7]
    world.sell("article-0", PRICE, creator=new_payer().address)
    world.fund(payer.address, 50 * PRICE)
    world.services.payments.pay(world.request(payer, "article-0", PRICE))
    s = settler(world, min_batch=100, max_age=10**9, urgency=1800)
    assert s.settle_once().submitted is None
    # The payer asks for its money back: available in 3600 s on chain (withdrawDelay in tests).
    world.chain.send(world.chain.hub.functions.requestWithdrawal(world.chain.usdc.address, 10 * PRICE), payer)
    world.services.indexer.sync_once()
    world.clock.now = world.chain.timestamp() + 3600 - 1800
    assert settle_and_index(world, s) == 1
    assert world.chain.claimed(payer.address, world.services.catalog.resource("article-0").payee) == PRICE  # type: ignore[union-attr]


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_channel_in_a_pending_claim_is_not_claimed_again(world: World) -> None:
    pay_many(world, [new_payer()], creators=2)
    s = settler(world)
    first = s.settle_once(force=True)
    assert first.channels == 2
    assert s.settle_once(force=True).channels == 0  # both still in the pending transaction


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_row_the_contract_skips_is_surfaced_on_the_receipt(world: World) -> None:
    payer, key = world.chain.accounts[8], new_payer()
    world.sell("article-0", PRICE, creator=new_payer().address)
    world.fund(payer.address, 50 * PRICE)
    world.chain.authorize_signer(payer, key.address, allowance=5 * PRICE)
    world.services.indexer.sync_once()
    receipt = world.services.payments.pay(world.request(payer, "article-0", PRICE, signer=key))
    world.chain.increase_time(2 * 86_400)  # the key expired: the row will be skipped
    world.services.indexer.sync_once()
    settle_and_index(world, settler(world), force=True)
    failed = world.services.accounts.receipt(receipt.id)
    assert failed is not None
    assert (failed.status, failed.failure) == (ReceiptStatus.FAILED, "SIGNER_EXPIRED")

"""Accepting vouchers, against the real chain and database."""

from __future__ import annotations

import pytest

from app.core.errors import (
    BadSignature,
    CumulativeMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    ResourceMismatch,
    SignerAllowanceExceeded,
    SignerNotAuthorized,
    UnknownResource,
)
from app.core.receipts import ReceiptStatus
from app.core.types import to_address
from tests.services.conftest import World, new_payer

PRICE = 10_000


def test_a_signed_voucher_for_the_next_amount_is_accepted(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    receipt = world.services.payments.pay(world.request(payer, "article-1", PRICE))
    assert receipt.status == ReceiptStatus.ACCEPTED
    assert receipt.price == PRICE
    account = world.services.accounts.account(to_address(payer.address), world.token)
    assert (account.balance, account.outstanding, account.headroom) == (100_000, PRICE, 90_000)


def test_the_same_voucher_twice_is_one_receipt_charged_once(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    request = world.request(payer, "article-1", PRICE)
    first = world.services.payments.pay(request)
    again = world.services.payments.pay(request)
    assert again == first
    assert world.services.accounts.account(to_address(payer.address), world.token).outstanding == PRICE


def test_a_skipped_amount_is_refused_with_the_latest_voucher(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    first = world.services.payments.pay(world.request(payer, "article-1", PRICE))
    with pytest.raises(CumulativeMismatch) as refused:
        world.services.payments.pay(world.request(payer, "article-1", 3 * PRICE))
    assert refused.value.fields["expected"] == 2 * PRICE
    latest = refused.value.fields["latest"]
    assert (latest.voucher, latest.signature) == (first.voucher, first.signature)


def test_a_voucher_beyond_the_headroom_is_refused(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, PRICE + PRICE // 2)
    world.sell("article-1", PRICE)
    world.sell("article-2", PRICE, creator=world.chain.accounts[8].address)
    world.services.payments.pay(world.request(payer, "article-1", PRICE))
    with pytest.raises(InsufficientFunds) as refused:
        world.services.payments.pay(world.request(payer, "article-2", PRICE))
    assert refused.value.fields == {"headroom": PRICE // 2, "price": PRICE}


def test_a_payer_without_any_deposit_is_refused(world: World) -> None:
    world.sell("article-1", PRICE)
    with pytest.raises(InsufficientFunds):
        world.services.payments.pay(world.request(new_payer(), "article-1", PRICE))


def test_a_signature_by_a_stranger_is_refused(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    with pytest.raises(BadSignature):
        world.services.payments.pay(world.request(payer, "article-1", PRICE, signer=new_payer()))


def test_an_unknown_resource_is_refused(world: World) -> None:
    payer = new_payer()
    world.sell("article-1", PRICE)
    request = world.request(payer, "article-1", PRICE)
    with pytest.raises(UnknownResource):
        world.services.payments.pay(type(request)(request.voucher, request.signature, "no-such-article"))


def test_a_voucher_to_another_payee_than_the_resources_is_refused(world: World) -> None:
    payer = new_payer()
    world.sell("article-1", PRICE)
    world.sell("article-2", PRICE, creator=world.chain.accounts[8].address)
    request = world.request(payer, "article-1", PRICE)
    with pytest.raises(ResourceMismatch):
        world.services.payments.pay(type(request)(request.voucher, request.signature, "article-2"))


def test_an_idempotency_key_replays_its_receipt_and_refuses_another_voucher(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    request = world.request(payer, "article-1", PRICE)
    first = world.services.payments.pay(request, idempotency_key="k-1")
    assert world.services.payments.pay(request, idempotency_key="k-1") == first
    with pytest.raises(IdempotencyConflict):
        world.services.payments.pay(world.request(payer, "article-1", 2 * PRICE), idempotency_key="k-1")


def test_a_session_key_pays_within_its_allowance(world: World) -> None:
    payer, key = world.chain.accounts[1], new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    world.chain.authorize_signer(payer, key.address, allowance=2 * PRICE)
    world.services.indexer.sync_once()
    world.services.payments.pay(world.request(payer, "article-1", PRICE, signer=key))
    receipt = world.services.payments.pay(world.request(payer, "article-1", 2 * PRICE, signer=key))
    assert receipt.signer == key.address
    with pytest.raises(SignerAllowanceExceeded):
        world.services.payments.pay(world.request(payer, "article-1", 3 * PRICE, signer=key))


def test_a_session_key_too_close_to_expiry_is_refused(world: World) -> None:
    payer, key = world.chain.accounts[1], new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    world.chain.authorize_signer(payer, key.address, allowance=PRICE, valid_until=world.clock.now + 60)
    world.services.indexer.sync_once()
    with pytest.raises(SignerNotAuthorized):
        world.services.payments.pay(world.request(payer, "article-1", PRICE, signer=key))


def test_a_withdrawal_request_seen_on_chain_shrinks_the_headroom(world: World) -> None:
    payer = world.chain.accounts[2]
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    world.chain.send(world.chain.hub.functions.requestWithdrawal(world.chain.usdc.address, 95_000), payer)
    world.services.indexer.sync_once()
    with pytest.raises(InsufficientFunds):
        world.services.payments.pay(world.request(payer, "article-1", PRICE))


def test_a_claim_on_chain_marks_the_receipts_claimed_and_frees_the_headroom(world: World) -> None:
    payer = world.chain.accounts[3]
    world.fund(payer.address, 30_000)
    payee = world.sell("article-1", PRICE)
    world.services.payments.pay(world.request(payer, "article-1", PRICE))
    latest = world.services.payments.pay(world.request(payer, "article-1", 2 * PRICE))
    v = latest.voucher
    row = (v.payer, v.payee, v.token, v.cumulative_amount, v.purchase, latest.signature)
    world.chain.claim([row])
    world.services.indexer.sync_once()
    account = world.services.accounts.account(to_address(payer.address), world.token)
    assert (account.balance, account.outstanding, account.headroom) == (10_000, 0, 10_000)
    receipts = world.services.accounts.receipts(payer=to_address(payer.address))
    assert {r.status for _, r in receipts} == {ReceiptStatus.CLAIMED}
    assert world.services.accounts.earnings(payee, world.token).withdrawable == 2 * PRICE


def test_a_batch_accepts_good_vouchers_and_refuses_bad_ones_individually(world: World) -> None:
    payer = new_payer()
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    world.sell("article-2", PRICE, creator=world.chain.accounts[8].address)
    good = world.request(payer, "article-1", PRICE)
    bad = world.request(payer, "article-2", 5 * PRICE)
    results = world.services.payments.pay_batch([bad, good])
    assert isinstance(results[0], CumulativeMismatch)
    assert results[1] == world.services.accounts.receipt(results[1].id)  # type: ignore[union-attr]


def test_an_unconfirmed_withdrawal_request_shrinks_the_headroom_at_once(world: World) -> None:
    from app.services.indexer import Indexer

    payer = world.chain.accounts[2]
    world.fund(payer.address, 100_000)
    world.sell("article-1", PRICE)
    cautious = Indexer(
        world.services.db,
        world.services.hub,
        world.services.bus,
        world.clock,
        start_block=world.chain.deployment.deployed_at_block,
        confirmations=50,
    )
    world.chain.send(world.chain.hub.functions.requestWithdrawal(world.chain.usdc.address, 95_000), payer)
    cautious.sync_once()  # the request is far from confirmed, but already counts
    account = world.services.accounts.account(to_address(payer.address), world.token)
    assert account.headroom == 5_000
    with pytest.raises(InsufficientFunds):
        world.services.payments.pay(world.request(payer, "article-1", PRICE))

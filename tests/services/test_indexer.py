"""The indexer on v2 events, against the FakeHub and a real SQLite store: accounts, claims of
lanes, skips, revocations, earnings, the chain's clock, confirmations and reorganisations."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from app.core import events as ev
from app.core.claims import ClaimBlock, encode_claim
from app.core.eip712 import Entries
from app.core.errors import Transient
from app.core.ledger import SkipReason
from app.core.receipts import Receipt, ReceiptStatus
from app.core.types import to_address
from app.services.events import MemoryBus
from app.services.indexer import Indexer, ReorgTooDeep
from app.store import index, payments
from app.store.tables import accounts, earnings, lane_entries, lanes, receipts, revocations
from tests.builders import address, entries, make_block, make_grant, new_key
from tests.services.conftest import FakeWorld

A, B = to_address("0x" + "aa" * 20), to_address("0x" + "bb" * 20)


def row(world: FakeWorld, table: Any, **key: Any) -> Any:
    with world.db.read() as conn:
        return conn.execute(select(table).filter_by(**key)).one()


def lane_row(world: FakeWorld, receipt: Receipt) -> Any:
    return row(world, lanes, payer=receipt.payer, token=receipt.token, lane=receipt.lane)


def status(world: FakeWorld, receipt: Receipt) -> tuple[str, str | None]:
    found = row(world, receipts, id=receipt.id)
    return found.status, found.failure


def claim_of(world: FakeWorld, receipt: Receipt, previous: Entries = ()) -> ClaimBlock:
    """The block that claims `receipt`'s whole voucher, as the settler builds it."""
    with world.db.read() as conn:
        signed = payments.signed_voucher(conn, receipt)
    return ClaimBlock(signed.voucher, signed.signature, previous)


def test_a_deposit_credits_the_payer_once_confirmed(fake_world: FakeWorld) -> None:
    payer = address(new_key())
    fake_world.hub.deposit(payer, fake_world.token, 500)
    indexer = fake_world.indexer(confirmations=2)
    indexer.sync_once()
    with fake_world.db.read() as conn:
        assert payments.get_account(conn, payer, fake_world.token) is None
    fake_world.hub.mine(2)
    indexer.sync_once()
    assert row(fake_world, accounts, payer=payer).balance == 500


def test_every_run_records_the_chains_clock(fake_world: FakeWorld) -> None:
    fake_world.hub.advance(1000)
    fake_world.hub.mine()
    fake_world.indexer(confirmations=5).sync_once()  # nothing confirmed yet: the clock still moves
    with fake_world.db.read() as conn:
        assert payments.chain_time(conn) == fake_world.hub.block(fake_world.hub.head())[2]


def test_a_claim_moves_the_lane_and_marks_its_receipts_up_to_the_voucher(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 1_000)
    first = world.pay(payer, A, 100)
    second = world.pay(payer, B, 30)
    third = world.pay(payer, A, 5)  # accepted after the voucher that is claimed
    events = world.hub.claim(world.hub.operator(), world.token, encode_claim([claim_of(world, second)]))
    world.sync()
    assert status(world, first) == status(world, second) == (ReceiptStatus.CLAIMED, None)
    assert row(world, receipts, id=second.id).claim_tx == events[0].at.tx_hash
    assert status(world, third) == (ReceiptStatus.ACCEPTED, None)
    lane = lane_row(world, second)
    assert (lane.claimed_total, lane.claimed_seq, lane.accepted_total) == (130, 2, 135)
    with world.db.read() as conn:
        assert payments.lane_vector(conn, second.payer, world.token, 0, claimed=True) == entries(
            (A, 100), (B, 30)
        )
    account = row(world, accounts, payer=address(payer))
    assert (account.balance, account.outstanding) == (870, 5)
    assert row(world, earnings, payee=A).withdrawable == 100


def test_a_claim_of_a_vector_no_receipt_signed_is_logged_and_changes_no_receipt(
    fake_world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 1_000)
    receipt = world.pay(payer, A, 100)
    elsewhere = make_block(world.domain, payer, address(payer), world.token, 0, entries((A, 60)))
    world.hub.claim(world.hub.operator(), world.token, encode_claim([elsewhere]))
    with caplog.at_level(logging.ERROR):
        world.sync()
    assert "which no receipt here signed" in caplog.text
    assert status(world, receipt) == (ReceiptStatus.ACCEPTED, None)
    assert lane_row(world, receipt).claimed_total == 0
    assert row(world, accounts, payer=address(payer)).balance == 940  # the chain's balance, whatever paid


def test_a_skip_blocks_the_lane_and_a_deposit_unblocks_an_insufficient_balance(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 50)
    receipt = world.pay(payer, A, 100)
    world.hub.claim(world.hub.operator(), world.token, encode_claim([claim_of(world, receipt)]))
    world.sync()
    lane = lane_row(world, receipt)
    assert (lane.blocked, lane.blocked_seq) == ("INSUFFICIENT_BALANCE", 1)
    assert status(world, receipt) == (ReceiptStatus.ACCEPTED, None)  # waiting can still pay it
    world.fund(payer, 100)
    assert lane_row(world, receipt).blocked is None


def test_a_final_skip_fails_the_lanes_accepted_receipts(fake_world: FakeWorld) -> None:
    world, payer, key = fake_world, new_key(), new_key()
    world.fund(payer, 1_000)
    grant = make_grant(world.domain, payer, key, world.token, 4, valid_until=world.hub.now + 100)
    receipt = world.pay(payer, A, 100, lane=4, key=key, grant=grant)
    world.hub.advance(200)
    block = claim_of(world, receipt)
    block = ClaimBlock(block.voucher, block.signature, (), grant)
    (skipped,) = world.hub.claim(world.hub.operator(), world.token, encode_claim([block]))
    assert skipped.reason is SkipReason.SIGNER_EXPIRED  # type: ignore[union-attr]
    world.sync()
    assert status(world, receipt) == (ReceiptStatus.FAILED, "SIGNER_EXPIRED")
    assert lane_row(world, receipt).blocked == "SIGNER_EXPIRED"


def test_a_revocation_is_recorded_with_when_it_takes_effect(fake_world: FakeWorld) -> None:
    payer, key = address(new_key()), address(new_key())
    effective_at = fake_world.hub.revoke_signer(payer, key)
    fake_world.sync()
    assert row(fake_world, revocations, payer=payer, signer=key).effective_at == effective_at


def test_withdrawn_earnings_pay_out_the_claimed_receipts(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 1_000)
    receipt = world.pay(payer, A, 100)
    world.hub.claim(world.hub.operator(), world.token, encode_claim([claim_of(world, receipt)]))
    world.hub.withdraw_earnings(A, world.token, A)
    world.sync()
    assert status(world, receipt) == (ReceiptStatus.PAID_OUT, None)
    paid = row(world, earnings, payee=A)
    assert (paid.withdrawable, paid.withdrawn) == (0, 100)


def test_a_withdrawal_request_counts_before_it_is_confirmed(fake_world: FakeWorld) -> None:
    payer = address(new_key())
    fake_world.hub.deposit(payer, fake_world.token, 500)
    fake_world.hub.mine(3)
    indexer = fake_world.indexer(confirmations=3)
    indexer.sync_once()
    fake_world.hub.request_withdrawal(payer, fake_world.token, 200)
    indexer.sync_once()
    with fake_world.db.read() as conn:
        account = payments.get_account(conn, payer, fake_world.token)
    assert account is not None
    assert (account.balance, account.pending_withdrawal) == (500, 200)


def test_a_reorg_of_applied_blocks_stops_indexing_loudly(fake_world: FakeWorld) -> None:
    fake_world.hub.deposit(address(new_key()), fake_world.token, 500)
    fake_world.sync()
    fake_world.hub.reorg(depth=1)
    with pytest.raises(ReorgTooDeep):
        fake_world.sync()


def test_a_lane_claimed_twice_in_one_claim_is_claimed_at_its_latest_voucher(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 1_000)
    first = world.pay(payer, A, 100)
    second = world.pay(payer, A, 50)
    blocks = [claim_of(world, first), claim_of(world, second, previous=entries((A, 100)))]
    world.hub.claim(world.hub.operator(), world.token, encode_claim(blocks))
    world.sync()
    lane = lane_row(world, second)
    assert (lane.claimed_total, lane.claimed_seq, lane.oldest_unclaimed_at) == (150, 2, None)
    assert row(world, accounts, payer=address(payer)).outstanding == 0
    assert row(world, lane_entries, payer=address(payer), payee=A).claimed == 150


def test_a_skip_for_a_claim_that_raced_another_leaves_the_lane_claimable(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 1_000)
    first = world.pay(payer, A, 100)
    second = world.pay(payer, A, 50)
    # A creator claims the first voucher while the operator's claim of the second, built before
    # that, is still on its way: the operator's block names a previous the lane no longer has.
    world.hub.claim(world.hub.operator(), world.token, encode_claim([claim_of(world, first)]))
    (skipped,) = world.hub.claim(world.hub.operator(), world.token, encode_claim([claim_of(world, second)]))
    assert skipped.reason is SkipReason.PREVIOUS_MISMATCH  # type: ignore[union-attr]
    world.sync()
    lane = lane_row(world, second)
    assert (lane.blocked, lane.claimed_seq) == (None, 1)


def test_a_dead_node_is_transient_and_leaves_the_store_untouched(
    fake_world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_world.hub.deposit(address(new_key()), fake_world.token, 500)

    def down(start: int, end: int) -> list[Any]:
        raise Transient("chain node: reading hub logs failed: the node is unreachable")

    monkeypatch.setattr(fake_world.hub, "events", down)
    with pytest.raises(Transient):
        fake_world.sync()
    with fake_world.db.read() as conn:
        assert conn.execute(select(accounts)).all() == []
    assert fake_world.indexer().cursor() is None


def test_chunk_by_chunk_indexing_reaches_the_same_state(fake_world: FakeWorld) -> None:
    payers = [address(new_key()) for _ in range(5)]
    for amount, payer in enumerate(payers, start=1):
        fake_world.hub.deposit(payer, fake_world.token, amount)
    indexer = Indexer(fake_world.db, fake_world.hub, MemoryBus(), fake_world.clock, 0, 0, chunk_size=2)
    assert indexer.sync_once().events == 6  # the token's listing, then five deposits
    with fake_world.db.read() as conn:
        assert sorted(r.balance for r in conn.execute(select(accounts))) == [1, 2, 3, 4, 5]


def test_a_lane_the_chain_can_never_pay_gives_its_headroom_back_and_takes_no_more_vouchers(
    fake_world: FakeWorld,
) -> None:
    payer = new_key()
    fake_world.fund(payer, 10_000)
    receipt = fake_world.pay(payer, to_address("0x" + "0" * 39 + "9"), 4_000)
    at = ev.Position(block_number=1, block_hash=b"\x00" * 32, log_index=0, tx_hash=b"\x00" * 32, timestamp=0)
    skipped = ev.VoucherSkipped(at, receipt.payer, receipt.token, receipt.lane, receipt.entries_hash,
                                SkipReason.SIGNER_EXPIRED)  # fmt: skip
    with fake_world.db.transaction() as conn:
        index.apply(conn, skipped)
    with fake_world.db.read() as conn:
        account = payments.get_account(conn, receipt.payer, receipt.token)
        assert payments.get_receipt(conn, receipt.id).status == ReceiptStatus.FAILED  # type: ignore[union-attr]
        assert payments.wallet_lane(conn, receipt.payer, receipt.token, receipt.payee) != receipt.lane
    assert account is not None
    assert account.headroom == 10_000

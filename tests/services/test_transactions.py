"""The operator's sender with automine off: dropped, underpriced and interrupted transactions are
all mined exactly once, with no nonce gap."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from app.chain.calls import claim_calldata
from app.chain.operator import Broadcast, Call, Operator
from app.core.claims import encode_claim
from app.core.types import to_address
from app.services.transactions import TxManager
from app.store.transactions import OperatorTx
from tests.builders import entries, make_block
from tests.factories import Chain
from tests.services.conftest import FakeClock, World

pytestmark = pytest.mark.parametrize("world", ["sqlite"], indirect=True)


def rpc(chain: Chain, method: str, *params: Any) -> Any:
    return chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]


@pytest.fixture
def manual_mining(world: World) -> Iterator[None]:
    rpc(world.chain, "evm_setAutomine", False)
    yield
    rpc(world.chain, "evm_setAutomine", True)


def operator(world: World) -> Operator:
    return Operator.connect(
        world.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        world.chain.hub.address,
        world.chain.accounts[0].key.hex(),
    )


def claim_call(world: World, manager: TxManager, amount: int) -> Call:
    """A claim of one fresh voucher from a funded payer (accounts[5]) to accounts[6], on a lane of
    its own (each call claims something new)."""
    payer, token = world.chain.accounts[5], to_address(world.chain.usdc.address)
    vector = entries((to_address(world.chain.accounts[6].address), amount))
    lane = int.from_bytes(os.urandom(7), "big")
    block = make_block(world.chain.domain, payer, to_address(payer.address), token, lane, vector)
    return Call(
        to=to_address(world.chain.hub.address),
        data=claim_calldata(token, encode_claim([block])),
        name="claim",
    )


def mine(world: World) -> None:
    rpc(world.chain, "evm_mine")


@pytest.fixture
def funded(world: World) -> World:
    world.chain.deposit(world.chain.accounts[5], 1_000_000)
    return world


def test_a_dropped_transaction_is_broadcast_again_and_mined_once(funded: World, manual_mining: None) -> None:
    world = funded
    manager = TxManager(world.services.db, operator(world), world.clock)
    submitted = manager.submit(claim_call(world, manager, 7_000), "claim", {})
    rpc(world.chain, "anvil_dropTransaction", "0x" + submitted.tx_hash.hex())
    assert manager.tick() == 1  # noticed the drop and sent the same bytes again
    mine(world)
    assert manager.tick() == 0
    assert world.chain.earnings(world.chain.accounts[6].address) == 7_000
    [tx] = [t for t in [_stored(manager, submitted.nonce)] if t]
    assert (tx.status, len(tx.hashes)) == ("mined", 1)


def test_an_underpriced_transaction_is_replaced_with_fees_the_chain_accepts(
    funded: World, manual_mining: None
) -> None:
    world = funded
    manager = TxManager(world.services.db, operator(world), world.clock)
    submitted = manager.submit(claim_call(world, manager, 9_000), "claim", {})
    first = _stored(manager, submitted.nonce)
    # The base fee jumps far above what the transaction offers: the node evicts it.
    rpc(world.chain, "anvil_setNextBlockBaseFeePerGas", hex(first.max_fee * 10))
    mine(world)
    assert manager.tick() == 1
    replaced = _stored(manager, submitted.nonce)
    assert len(replaced.hashes) == 2
    assert replaced.max_fee >= first.max_fee * 10
    mine(world)
    assert manager.tick() == 0
    assert _stored(manager, submitted.nonce).status == "mined"
    assert world.chain.earnings(world.chain.accounts[6].address) == 9_000
    assert operator(world).nonce("latest") == submitted.nonce + 1


def test_a_transaction_stuck_in_the_pool_gets_its_fees_bumped(funded: World, manual_mining: None) -> None:
    world = funded
    clock: FakeClock = world.clock
    manager = TxManager(world.services.db, operator(world), clock, bump_after=30)
    submitted = manager.submit(claim_call(world, manager, 4_000), "claim", {})
    first = _stored(manager, submitted.nonce)
    assert manager.tick() == 1
    assert _stored(manager, submitted.nonce).hashes == first.hashes  # pending, but not stuck yet
    clock.now += 31
    assert manager.tick() == 1
    bumped = _stored(manager, submitted.nonce)
    assert len(bumped.hashes) == 2
    assert bumped.priority_fee >= first.priority_fee * 125 // 100
    mine(world)
    assert manager.tick() == 0
    assert world.chain.earnings(world.chain.accounts[6].address) == 4_000
    mined = [h for h in bumped.hashes if operator(world).receipt(h) is not None]
    assert mined == [bumped.hashes[-1]]  # the replacement, and only it


def test_a_crash_between_storing_and_broadcasting_is_recovered_without_a_gap(
    funded: World, manual_mining: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = funded
    crashed = TxManager(world.services.db, operator(world), world.clock)
    monkeypatch.setattr(Operator, "broadcast", lambda self, raw: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        crashed.submit(claim_call(world, crashed, 3_000), "claim", {"why": "first"})
    monkeypatch.undo()

    restarted = TxManager(world.services.db, operator(world), world.clock)
    second = restarted.submit(claim_call(world, restarted, 5_000), "claim", {"why": "second"})
    assert restarted.tick() == 2  # the first is found unsent and broadcast
    mine(world)
    assert restarted.tick() == 0
    first_tx, second_tx = _stored(restarted, second.nonce - 1), _stored(restarted, second.nonce)
    assert (first_tx.status, second_tx.status) == ("mined", "mined")
    assert first_tx.payload == {"why": "first"}
    # Two vouchers on two lanes: each claimed once.
    assert world.chain.earnings(world.chain.accounts[6].address) == 3_000 + 5_000


def test_a_refused_call_is_never_signed_or_stored(funded: World) -> None:
    world = funded
    manager = TxManager(world.services.db, operator(world), world.clock)
    with pytest.raises(Exception, match="NoWithdrawalPending"):
        manager.submit(manager.encode("withdraw", world.chain.usdc.address), "withdraw", {})
    assert manager.pending() == []


def test_broadcasting_the_same_bytes_twice_is_harmless(funded: World, manual_mining: None) -> None:
    world = funded
    manager = TxManager(world.services.db, operator(world), world.clock)
    submitted = manager.submit(claim_call(world, manager, 1_000), "claim", {})
    assert operator(world).broadcast(_stored(manager, submitted.nonce).raw) in (
        Broadcast.KNOWN,
        Broadcast.SENT,
    )
    mine(world)
    assert manager.tick() == 0


def _stored(manager: TxManager, nonce: int) -> OperatorTx:
    tx = manager.get(nonce)
    assert tx is not None
    return tx

"""A creator's exit: what it exports is enough for any wallet to claim, without the server."""

from __future__ import annotations

from eth_abi.abi import decode

from app.core import events as ev
from app.core.types import Address, to_address
from app.services.exits import Exits
from tests.builders import address, make_grant, new_key
from tests.services.conftest import FakeWorld

A, B = to_address("0x" + "aa" * 20), to_address("0x" + "bb" * 20)


def send(world: FakeWorld, sender: Address, tx: dict[str, str]) -> list[ev.HubEvent]:
    """What a wallet's transaction does on the hub."""
    assert tx["to"] == world.hub.address
    token, data = decode(["address", "bytes"], bytes.fromhex(tx["data"][10:]))
    return world.hub.claim(sender, to_address(token), bytes(data))


def test_exported_claims_pay_the_creator_when_a_stranger_sends_them(fake_world: FakeWorld) -> None:
    world, payer, key = fake_world, new_key(), new_key()
    world.fund(payer, 10_000)
    world.pay(payer, A, 100, lane=0)
    world.pay(payer, B, 40, lane=0)
    grant = make_grant(world.domain, payer, key, world.token, 1)
    world.pay(payer, A, 7, lane=1, key=key, grant=grant)
    world.pay(payer, B, 9, lane=2)  # owes A nothing: not exported for A
    exported = Exits(world.db, world.domain).export(A)
    assert [c["lane"] for c in exported["claims"]] == ["0", "1"]
    assert exported["claims"][1]["grant"]["signer"] == address(key)
    (tx,) = exported["transactions"]
    claimed = [e for e in send(world, address(new_key()), tx) if isinstance(e, ev.VoucherClaimed)]
    assert [e.amount for e in claimed] == [140, 7]
    assert world.hub.earnings_of(A, world.token) == 107
    world.sync()
    assert Exits(world.db, world.domain).export(A)["claims"] == []


def test_an_export_starts_from_the_lanes_claimed_vector(fake_world: FakeWorld) -> None:
    world, payer = fake_world, new_key()
    world.fund(payer, 10_000)
    world.pay(payer, A, 100)
    (first,) = Exits(world.db, world.domain).export(A)["transactions"]
    send(world, address(new_key()), first)
    world.sync()
    world.pay(payer, A, 5)
    exported = Exits(world.db, world.domain).export(A)
    assert exported["claims"][0]["previous"] == [{"payee": A, "cumulativeAmount": "100"}]
    (claimed, _) = send(world, address(new_key()), exported["transactions"][0])
    assert isinstance(claimed, ev.VoucherClaimed)
    assert claimed.amount == 5


def test_a_withdrawal_is_ready_calldata_for_the_payers_wallet(fake_world: FakeWorld) -> None:
    tx = Exits(fake_world.db, fake_world.domain).request_withdrawal_tx(fake_world.token, 500)
    assert tx.to == fake_world.hub.address
    assert decode(["address", "uint256"], tx.data[4:]) == (fake_world.token.lower(), 500)

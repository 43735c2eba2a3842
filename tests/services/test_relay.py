"""The operator relays gasless deposits, batches EIP-3009 deposits that arrive together into one
transaction, and explains what the hub would refuse."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.chain.operator import Operator
from app.core.errors import ChainRefused, NotConfigured
from app.core.types import to_address
from app.services.relay import Relay
from app.services.transactions import TxManager
from tests.contracts.test_deposits import gasless_payer, sign_permit, sign_receive_authorization
from tests.services.conftest import World


def relay_for(world: World) -> Relay:
    operator = Operator.connect(
        world.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        world.chain.hub.address,
        "0x" + bytes(world.chain.accounts[0].key).hex(),
    )
    return Relay(TxManager(world.services.db, operator, world.clock))


def signature(vrs: tuple[int, bytes, bytes]) -> bytes:
    v, r, s = vrs
    return r + s + bytes([v])


def authorize(world: World, amount: int, nonce: bytes | None = None) -> tuple[str, bytes, bytes]:
    """A payer without ETH, and its signed ReceiveWithAuthorization of `amount` to the hub."""
    payer = gasless_payer(world.chain, amount)
    nonce = nonce or os.urandom(32)
    vrs = sign_receive_authorization(
        world.chain.usdc, payer, world.chain.hub.address, amount, 0, 2**40, nonce
    )
    return payer.address, nonce, signature(vrs)


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_relayed_permit_deposit_is_indexed(world: World) -> None:
    relay = relay_for(world)
    payer = gasless_payer(world.chain, 70_000)
    vrs = sign_permit(world.chain.usdc, payer, world.chain.hub.address, 70_000, 2**40)
    sent = relay.deposit_with_permit(to_address(payer.address), world.token, 70_000, 2**40, signature(vrs))
    world.chain.w3.eth.wait_for_transaction_receipt(sent.tx_hash)
    world.services.indexer.sync_once()
    assert world.services.accounts.account(to_address(payer.address), world.token).balance == 70_000
    relay.close()


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_eip3009_deposits_arriving_together_share_one_transaction(world: World) -> None:
    relay = relay_for(world)
    signed = [authorize(world, 10_000 * (i + 1)) for i in range(6)]

    def send(item: tuple[str, bytes, bytes]) -> bytes:
        payer, nonce, sig = item
        amount = 10_000 * (signed.index(item) + 1)
        return relay.deposit_with_authorization(
            to_address(payer), world.token, amount, 0, 2**40, nonce, sig
        ).tx_hash

    with ThreadPoolExecutor(6) as pool:
        hashes = set(pool.map(send, signed))
    for tx_hash in hashes:
        world.chain.w3.eth.wait_for_transaction_receipt(tx_hash)
    world.services.indexer.sync_once()
    assert len(hashes) < len(signed)  # at least two deposits rode in one transaction
    for index, (payer, _, _) in enumerate(signed):
        assert world.services.accounts.account(to_address(payer), world.token).balance == 10_000 * (index + 1)
    relay.close()


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_reused_authorization_is_refused_before_any_gas_is_spent(world: World) -> None:
    relay = relay_for(world)
    payer, nonce, sig = authorize(world, 5_000)
    sent = relay.deposit_with_authorization(to_address(payer), world.token, 5_000, 0, 2**40, nonce, sig)
    world.chain.w3.eth.wait_for_transaction_receipt(sent.tx_hash)
    with pytest.raises(ChainRefused):
        relay.deposit_with_authorization(to_address(payer), world.token, 5_000, 0, 2**40, nonce, sig)
    relay.close()


def test_a_server_without_an_operator_key_says_so() -> None:
    anyone = to_address("0x" + "11" * 20)
    relay = Relay(None)
    with pytest.raises(NotConfigured):
        relay.deposit_with_authorization(anyone, anyone, 1, 0, 1, b"\x00" * 32, b"\x11" * 64 + b"\x1b")
    relay.close()

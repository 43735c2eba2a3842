"""The operator relays session keys and gasless deposits, and explains what the hub would refuse."""

from __future__ import annotations

import pytest
from eth_account import Account

from app.chain.operator import Operator
from app.core.eip712 import SignerAuthorization, signer_authorization_digest
from app.core.errors import ChainRefused, NotConfigured
from app.core.types import to_address
from app.services.relay import Relay
from app.services.transactions import TxManager
from tests.factories import sign_digest
from tests.services.conftest import World


def relay_for(world: World) -> Relay:
    operator = Operator.connect(
        world.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        world.chain.hub.address,
        world.chain.accounts[0].key.hex(),
    )
    return Relay(TxManager(world.services.db, operator, world.clock))


def authorization(world: World, payer_key: bytes, nonce: int = 1) -> tuple[SignerAuthorization, bytes]:
    payer = Account.from_key(payer_key)
    auth = SignerAuthorization(
        payer=to_address(payer.address),
        signer=to_address(Account.create().address),
        token=world.token,
        allowance=50_000,
        valid_until=world.clock.now + 86_400,
        nonce=nonce,
    )
    return auth, sign_digest(payer_key, signer_authorization_digest(world.services.domain, auth))


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_relayed_session_key_is_registered_and_indexed(world: World) -> None:
    relay = relay_for(world)
    auth, signature = authorization(world, world.chain.accounts[4].key)
    sent = relay.register_session_key(auth, signature)
    world.chain.w3.eth.wait_for_transaction_receipt(sent.tx_hash)
    world.services.indexer.sync_once()
    [key] = world.services.accounts.session_keys(auth.payer)
    assert (key.signer, key.allowance, key.token) == (auth.signer, 50_000, world.token)


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_reused_authorization_is_refused_before_any_gas_is_spent(world: World) -> None:
    relay = relay_for(world)
    auth, signature = authorization(world, world.chain.accounts[4].key)
    world.chain.w3.eth.wait_for_transaction_receipt(relay.register_session_key(auth, signature).tx_hash)
    with pytest.raises(ChainRefused) as refused:
        relay.register_session_key(auth, signature)
    assert refused.value.fields["error"] == "NonceAlreadyUsed"


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_an_authorization_signed_by_someone_else_is_refused(world: World) -> None:
    auth, _ = authorization(world, world.chain.accounts[4].key)
    _, forged = authorization(world, world.chain.accounts[5].key)
    with pytest.raises(ChainRefused) as refused:
        relay_for(world).register_session_key(auth, forged)
    assert refused.value.fields["error"] == "InvalidAuthorizationSignature"


def test_a_server_without_an_operator_key_says_so() -> None:
    anyone = to_address("0x" + "11" * 20)
    auth = SignerAuthorization(payer=anyone, signer=anyone, token=anyone, allowance=1, valid_until=1, nonce=1)
    with pytest.raises(NotConfigured):
        Relay(None).register_session_key(auth, b"\x00" * 65)

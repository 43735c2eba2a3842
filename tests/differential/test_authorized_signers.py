"""A smart wallet pays through an ECDSA key it authorised on chain (its EIP-1271 answers are used by
neither side: the wallet could change them after the server acknowledged). Revoking the key stops
the server at once and the chain after the delay, and what was acknowledged before is paid."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3

from app.core.errors import BadSignature, SignerNotAuthorized
from app.core.types import to_address
from app.services.runtime import Services
from tests.differential.conftest import pay, settle
from tests.factories import Chain


def test_a_payer_pays_through_a_key_it_authorised_on_chain(server: Services, chain: Chain) -> None:
    payer, key, creator = chain.accounts[4], Account.create(), chain.accounts[7]
    chain.deposit(payer, 100_000)
    server.catalog.save(
        to_address(creator.address), "article", to_address(chain.usdc.address), 10_000, "An article"
    )
    server.indexer.sync_once()
    with pytest.raises((BadSignature, SignerNotAuthorized)):  # not yet authorised: a stranger
        pay(server, payer, "article", signer=key)

    chain.send(chain.hub.functions.authorizeSigner(Web3.to_checksum_address(key.address)), payer)
    server.indexer.sync_once()
    receipt = pay(server, payer, "article", signer=key)
    assert (receipt.payer, receipt.signer) == (payer.address, key.address)
    pay(server, payer, "article", signer=key)

    chain.send(chain.hub.functions.revokeSigner(Web3.to_checksum_address(key.address)), payer)
    server.indexer.sync_once()
    with pytest.raises(SignerNotAuthorized):  # the server stops the key as soon as it sees the revocation
        pay(server, payer, "article", signer=key)

    settle(server)  # within the delay: the chain still honours what the key signed
    assert chain.earnings(creator.address) == 20_000

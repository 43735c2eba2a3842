"""The three ways v1 acknowledged money the chain then never paid, each replayed against the real
server and the real hub: in v2 the chain pays every acknowledged voucher in full."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from web3 import Web3

from app.core.claims import ClaimBlock, encode_claim
from app.core.eip712 import Entry, PayerVoucher, SessionGrant, digest
from app.core.errors import BadSignature
from app.core.signatures import sign
from app.core.types import to_address
from app.services.payments import PayRequest
from app.services.runtime import Services
from tests.differential.conftest import pay, settle, signed_request
from tests.factories import Chain, skip_reason


def sell(services: Services, chain: Chain, creator_index: int, price: int) -> str:
    creator = chain.accounts[creator_index]
    resource = f"thing-{creator_index}-{price}"
    services.catalog.save(
        to_address(creator.address), resource, to_address(chain.usdc.address), price, "A thing"
    )
    return resource


def test_a_payer_cannot_empty_its_deposit_around_the_server(server: Services, chain: Chain) -> None:
    """v1: the payer signed its whole balance to an address of its own, claimed it and withdrew at
    once; 70,000 acknowledged, 0 paid. v2: its claim needs the operator's acknowledgement."""
    payer, accomplice, creator = chain.accounts[4], Account.create(), chain.accounts[7]
    chain.deposit(payer, 70_000)
    server.indexer.sync_once()
    article = sell(server, chain, 7, 10_000)
    for _ in range(7):
        pay(server, payer, article)

    voucher = PayerVoucher(
        to_address(payer.address), to_address(chain.usdc.address), 99,
        (Entry(to_address(accomplice.address), 70_000),), os.urandom(32),
    )  # fmt: skip
    block = ClaimBlock(voucher, sign(digest(server.domain, voucher), payer.key))
    receipt = chain.send(chain.hub.functions.claim(chain.usdc.address, encode_claim([block])), payer)
    [skipped] = chain.events(receipt, "VoucherSkipped")
    assert skipped["reason"] == skip_reason("NotAcknowledged")
    chain.send(chain.hub.functions.requestWithdrawal(chain.usdc.address, 70_000), payer)
    server.indexer.sync_once()

    delay = chain.hub.functions.withdrawDelay().call()
    chain.increase_time(delay // 2 + 1)  # the settler, running all along, sees the lane is now urgent
    settle(server, force=False)
    chain.increase_time(delay // 2)
    chain.send(chain.hub.functions.withdraw(chain.usdc.address), payer)

    assert chain.earnings(creator.address) == 70_000
    assert chain.earnings(accomplice.address) == 0
    assert chain.balance(payer.address) == 0


def test_wallet_and_key_vouchers_for_one_payer_are_paid_in_full(server: Services, chain: Chain) -> None:
    """v1: a key's allowance was charged for what the wallet had signed on the same channel; 50,000
    accepted, 20,000 paid. v2: the key has a lane of its own and its cap is that lane's total."""
    payer, key, creator = chain.accounts[5], Account.create(), chain.accounts[8]
    chain.deposit(payer, 200_000)
    server.indexer.sync_once()
    article = sell(server, chain, 8, 10_000)
    for _ in range(3):
        pay(server, payer, article)  # the wallet: 30,000
    typed = server.typed_data.grant(
        to_address(payer.address), to_address(key.address), to_address(chain.usdc.address), 20_000,
        chain.timestamp() + 86_400,
    )  # fmt: skip
    grant = SessionGrant(
        *(typed["message"][k] for k in ("payer", "signer", "token", "lane", "maxTotal", "validUntil"))
    )
    server.session_keys.authorize(grant, sign(digest(server.domain, grant), payer.key))
    for _ in range(2):
        pay(server, payer, article, signer=key)  # the key: 20,000, its whole cap
    pay(server, payer, article)  # the wallet again: 10,000

    request = signed_request(server, payer, article)
    resigned = sign(digest(server.domain, request.voucher), key.key)
    with pytest.raises(BadSignature):  # the key cannot sign on the wallet's lane
        server.payments.pay(PayRequest(request.voucher, resigned, article))

    settle(server)
    assert chain.earnings(creator.address) == 60_000
    assert server.accounts.account(to_address(payer.address), to_address(chain.usdc.address)).outstanding == 0


@pytest.mark.parametrize("v", [0, 1])
def test_a_signature_with_v_0_or_1_is_refused_by_the_server_as_by_the_hub(
    server: Services, chain: Chain, v: int
) -> None:
    """v1: the server normalised v = 0/1 and the hub refused it; 30,000 lost. v2: one rule, both sides."""
    payer, creator = chain.accounts[6], chain.accounts[9]
    chain.deposit(payer, 50_000)
    server.indexer.sync_once()
    request = signed_request(server, payer, sell(server, chain, 9, 30_000))
    # The same signature with v as 0/1 (yParity) instead of 27/28, as some signers produce it; when
    # the parity differs from the signature's own, it names another key: refused all the same.
    low_v = request.signature[:64] + bytes([v])

    with pytest.raises(BadSignature):
        server.payments.pay(PayRequest(request.voucher, low_v, request.resource_id))
    block = ClaimBlock(request.voucher, low_v)
    receipt = chain.send(chain.hub.functions.claim(chain.usdc.address, encode_claim([block])), chain.owner)
    [skipped] = chain.events(receipt, "VoucherSkipped")
    assert skipped["reason"] == skip_reason("BadSignature")
    assert chain.earnings(creator.address) == 0
    assert Web3.to_checksum_address(skipped["payer"]) == payer.address

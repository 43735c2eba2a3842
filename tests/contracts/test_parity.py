"""The contract hashes exactly what Python (and so every wallet) signs."""

from __future__ import annotations

from eth_utils import keccak

from app.core.eip712 import SignerAuthorization, channel_id, signer_authorization_digest, voucher_digest
from app.core.types import to_address
from tests.factories import Chain, auth_tuple


def test_domain_separator_matches_python(chain: Chain) -> None:
    assert chain.hub.functions.DOMAIN_SEPARATOR().call() == chain.domain.separator


def test_voucher_digest_matches_python(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    voucher = chain.voucher(payer, payee.address, 2**128 - 1, purchase=keccak(b"article-42/request-7"))
    on_chain = chain.hub.functions.voucherDigest(
        voucher.payer, voucher.payee, voucher.token, voucher.cumulative_amount, voucher.purchase
    ).call()
    assert on_chain == voucher_digest(chain.domain, voucher)


def test_signer_authorization_digest_matches_python(chain: Chain) -> None:
    auth = SignerAuthorization(
        payer=to_address(chain.accounts[1].address),
        signer=to_address(chain.accounts[2].address),
        token=to_address(chain.usdc.address),
        allowance=5_000_000,
        valid_until=2**40,
        nonce=7,
    )
    on_chain = chain.hub.functions.signerAuthorizationDigest(auth_tuple(auth)).call()
    assert on_chain == signer_authorization_digest(chain.domain, auth)


def test_channel_id_matches_python(chain: Chain) -> None:
    payer, payee, token = chain.accounts[1].address, chain.accounts[2].address, chain.usdc.address
    assert chain.hub.functions.channelId(payer, payee, token).call() == channel_id(
        to_address(payer), to_address(payee), to_address(token)
    )


def test_a_signed_voucher_is_claimed(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, 10_000_000)
    receipt = chain.claim([chain.signed_row(payer, payee.address, 1_500_000)])
    [event] = chain.events(receipt, "Claimed")
    assert (event["amount"], event["claimed"], event["signer"]) == (1_500_000, 1_500_000, payer.address)
    assert chain.earnings(payee.address) == 1_500_000
    assert chain.balance(payer.address) == 8_500_000

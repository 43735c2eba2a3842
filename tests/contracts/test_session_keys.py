"""Session keys: registered from the payer's signature, bounded by token, allowance, expiry and revocation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from app.core.eip712 import Domain, SignerAuthorization, digest
from app.core.types import to_address
from tests.conftest import WITHDRAW_DELAY
from tests.factories import Chain, auth_tuple, claim_row, new_key, reverts_with, sign_digest, skip_reason

ZERO_ADDRESS = "0x" + "00" * 20


def authorization(
    chain: Chain,
    payer: LocalAccount,
    signer: str,
    allowance: int = 1_000_000,
    valid_until: int | None = None,
    nonce: int = 0,
    token: str | None = None,
) -> SignerAuthorization:
    return SignerAuthorization(
        payer=to_address(payer.address),
        signer=to_address(signer),
        token=to_address(token or chain.usdc.address),
        allowance=allowance,
        valid_until=valid_until if valid_until is not None else chain.timestamp() + 86_400,
        nonce=nonce,
    )


def sign_auth(key: LocalAccount, auth: SignerAuthorization, domain: Domain) -> bytes:
    return sign_digest(key.key, digest(domain.separator, auth.struct_hash()))


def register(
    chain: Chain, auth: SignerAuthorization, signature: bytes, relayer: LocalAccount | None = None
) -> TxReceipt:
    call = chain.hub.functions.registerSigner(auth_tuple(auth), signature)
    return chain.send(call, relayer or chain.accounts[5])


def signed_by_payer(chain: Chain, payer: LocalAccount, auth: SignerAuthorization) -> TxReceipt:
    return register(chain, auth, sign_auth(payer, auth, chain.domain))


def key_row(
    chain: Chain, key: LocalAccount, payer: LocalAccount, payee: str, cumulative: int, **fields: Any
) -> Any:
    """A claim row for a voucher of `payer` signed by the session key `key`."""
    voucher = chain.voucher(payer, payee, cumulative, **fields)
    return claim_row(voucher, chain.sign_voucher(key, voucher))


def signer_of(chain: Chain, payer: LocalAccount, key: LocalAccount) -> tuple[str, int, int, int]:
    token, allowance, valid_until, revoked_at = chain.hub.functions.signerOf(
        payer.address, key.address
    ).call()
    return token, int(allowance), int(valid_until), int(revoked_at)


def only_skip(chain: Chain, receipt: TxReceipt) -> int:
    assert chain.events(receipt, "Claimed") == []
    [skipped] = chain.events(receipt, "ClaimSkipped")
    return int(skipped["reason"])


def block_time(chain: Chain, receipt: TxReceipt) -> int:
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


# ------------------------------------------------------------ registration and use


def test_a_relayed_authorization_registers_a_key_that_pays(chain: Chain) -> None:
    payer, payee, relayer, key = chain.accounts[1], chain.accounts[2], chain.accounts[6], new_key()
    chain.deposit(payer, 10_000_000)
    auth = authorization(chain, payer, key.address, allowance=3_000_000, nonce=7)

    receipt = register(chain, auth, sign_auth(payer, auth, chain.domain), relayer=relayer)
    assert chain.events(receipt, "SignerRegistered") == [
        {
            "payer": payer.address,
            "signer": key.address,
            "token": chain.usdc.address,
            "allowance": 3_000_000,
            "validUntil": auth.valid_until,
            "nonce": 7,
        }
    ]
    assert signer_of(chain, payer, key) == (chain.usdc.address, 3_000_000, auth.valid_until, 0)

    receipt = chain.claim([key_row(chain, key, payer, payee.address, 1_200_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert claimed["signer"] == key.address
    assert (claimed["payer"], claimed["amount"], claimed["claimed"]) == (payer.address, 1_200_000, 1_200_000)
    assert signer_of(chain, payer, key)[1] == 1_800_000
    assert chain.earnings(payee.address) == 1_200_000
    assert chain.balance(payer.address) == 8_800_000


def test_a_voucher_above_the_allowance_pays_only_what_is_left_then_the_key_is_exhausted(chain: Chain) -> None:
    payer, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    chain.deposit(payer, 10_000_000)
    chain.authorize_signer(payer, key.address, 1_000_000)

    chain.claim([key_row(chain, key, payer, payee.address, 600_000)])
    assert signer_of(chain, payer, key)[1] == 400_000

    receipt = chain.claim([key_row(chain, key, payer, payee.address, 1_500_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["amount"], claimed["claimed"]) == (400_000, 1_000_000)
    assert signer_of(chain, payer, key)[1] == 0

    receipt = chain.claim([key_row(chain, key, payer, payee.address, 2_000_000)])
    assert only_skip(chain, receipt) == skip_reason("SignerExhausted")
    assert chain.earnings(payee.address) == 1_000_000
    assert chain.balance(payer.address) == 9_000_000

    # The payer's own signature is not bounded by the key's allowance.
    receipt = chain.claim([chain.signed_row(payer, payee.address, 2_000_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["signer"], claimed["amount"]) == (payer.address, 1_000_000)


def test_an_expired_key_is_skipped(chain: Chain) -> None:
    payer, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    chain.deposit(payer, 10_000_000)
    chain.authorize_signer(payer, key.address, 1_000_000, valid_until=chain.timestamp() + 1_000)

    receipt = chain.claim([key_row(chain, key, payer, payee.address, 100_000)])
    assert len(chain.events(receipt, "Claimed")) == 1

    chain.increase_time(2_000)
    receipt = chain.claim([key_row(chain, key, payer, payee.address, 200_000)])
    assert only_skip(chain, receipt) == skip_reason("SignerExpired")
    assert chain.claimed(payer.address, payee.address) == 100_000


def test_an_authorization_already_expired_cannot_be_registered(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    valid_until = chain.timestamp() - 1
    auth = authorization(chain, payer, key.address, valid_until=valid_until)
    with reverts_with(chain.hub, "AuthorizationExpired", valid_until):
        signed_by_payer(chain, payer, auth)


# --------------------------------------------------------------------- revocation


def test_a_revoked_key_pays_until_the_revocation_takes_effect(chain: Chain) -> None:
    payer, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    chain.deposit(payer, 10_000_000)
    chain.authorize_signer(payer, key.address, 5_000_000)

    receipt = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    effective_at = block_time(chain, receipt) + WITHDRAW_DELAY
    assert chain.events(receipt, "SignerRevoked") == [
        {"payer": payer.address, "signer": key.address, "effectiveAt": effective_at}
    ]
    assert signer_of(chain, payer, key)[3] == effective_at

    receipt = chain.claim([key_row(chain, key, payer, payee.address, 1_000_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["signer"], claimed["amount"]) == (key.address, 1_000_000)

    chain.increase_time(WITHDRAW_DELAY)
    receipt = chain.claim([key_row(chain, key, payer, payee.address, 2_000_000)])
    assert only_skip(chain, receipt) == skip_reason("SignerRevoked")
    assert chain.earnings(payee.address) == 1_000_000


def test_revoking_an_unknown_signer_reverts(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    with reverts_with(chain.hub, "UnknownSigner", key.address):
        chain.send(chain.hub.functions.revokeSigner(key.address), payer)

    # A key of another payer is unknown to this one.
    chain.authorize_signer(chain.accounts[3], key.address, 1_000_000)
    with reverts_with(chain.hub, "UnknownSigner", key.address):
        chain.send(chain.hub.functions.revokeSigner(key.address), payer)


def test_revoking_twice_does_not_postpone_the_revocation(chain: Chain) -> None:
    payer, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    chain.deposit(payer, 10_000_000)
    chain.authorize_signer(payer, key.address, 5_000_000)
    first = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    effective_at = block_time(chain, first) + WITHDRAW_DELAY

    chain.increase_time(1_000)
    second = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    [event] = chain.events(second, "SignerRevoked")
    assert event["effectiveAt"] == effective_at
    assert signer_of(chain, payer, key)[3] == effective_at

    chain.increase_time(WITHDRAW_DELAY - 1_000)
    receipt = chain.claim([key_row(chain, key, payer, payee.address, 1_000_000)])
    assert only_skip(chain, receipt) == skip_reason("SignerRevoked")


# ------------------------------------------------------------------------- nonces


def test_an_authorization_cannot_be_registered_twice(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    auth = authorization(chain, payer, key.address, nonce=3)
    signature = sign_auth(payer, auth, chain.domain)
    register(chain, auth, signature)
    assert chain.hub.functions.isNonceUsed(payer.address, 3).call()

    with reverts_with(chain.hub, "NonceAlreadyUsed", payer.address, 3):
        register(chain, auth, signature)

    chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    with reverts_with(chain.hub, "NonceAlreadyUsed", payer.address, 3):
        register(chain, auth, signature)


def test_nonces_are_independent_across_bitmap_words(chain: Chain) -> None:
    payer = chain.accounts[1]
    used = chain.hub.functions.isNonceUsed
    signed_by_payer(chain, payer, authorization(chain, payer, new_key().address, nonce=0))
    assert used(payer.address, 0).call()
    for nonce in (1, 255, 256, 257, 2**255, 2**256 - 1):
        assert not used(payer.address, nonce).call()

    for nonce in (256, 2**255, 1):
        signed_by_payer(chain, payer, authorization(chain, payer, new_key().address, nonce=nonce))
        assert used(payer.address, nonce).call()
    for nonce in (2, 255, 257, 2**255 + 1, 2**256 - 1):
        assert not used(payer.address, nonce).call()
    # Nonces belong to one payer.
    assert not used(chain.accounts[3].address, 0).call()
    signed_by_payer(
        chain, chain.accounts[3], authorization(chain, chain.accounts[3], new_key().address, nonce=0)
    )


# --------------------------------------------------------------------- signatures


def test_an_authorization_for_another_chain_or_hub_is_refused(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    auth = authorization(chain, payer, key.address)
    other_chain = Domain(chain_id=chain.domain.chain_id + 1, hub=chain.domain.hub)
    other_hub = Domain(chain_id=chain.domain.chain_id, hub=to_address("0x" + "ab" * 20))
    for domain in (other_chain, other_hub):
        with reverts_with(chain.hub, "InvalidAuthorizationSignature"):
            register(chain, auth, sign_auth(payer, auth, domain))
    assert not chain.hub.functions.isNonceUsed(payer.address, 0).call()


def test_an_authorization_signed_by_someone_else_is_refused(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    auth = authorization(chain, payer, key.address)
    for impostor in (chain.accounts[3], key):
        with reverts_with(chain.hub, "InvalidAuthorizationSignature"):
            register(chain, auth, sign_auth(impostor, auth, chain.domain))
    assert signer_of(chain, payer, key) == (ZERO_ADDRESS, 0, 0, 0)


def test_a_tampered_authorization_is_refused(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    auth = authorization(chain, payer, key.address, allowance=1_000_000)
    signature = sign_auth(payer, auth, chain.domain)
    tampered = [
        replace(auth, allowance=1_000_001),
        replace(auth, valid_until=auth.valid_until + 1),
        replace(auth, signer=to_address(new_key().address)),
        replace(auth, nonce=1),
    ]
    for forged in tampered:
        with reverts_with(chain.hub, "InvalidAuthorizationSignature"):
            register(chain, forged, signature)


# --------------------------------------------------------------------- arguments


def test_the_zero_address_cannot_be_a_session_key(chain: Chain) -> None:
    payer = chain.accounts[1]
    with reverts_with(chain.hub, "InvalidSigner"):
        signed_by_payer(chain, payer, authorization(chain, payer, ZERO_ADDRESS))


def test_a_key_for_a_token_never_listed_cannot_be_registered(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    unlisted = chain.deploy("TestStablecoin")
    auth = authorization(chain, payer, key.address, token=unlisted.address)
    with reverts_with(chain.hub, "TokenNotAllowed", unlisted.address):
        signed_by_payer(chain, payer, auth)


def test_an_allowance_above_128_bits_is_refused(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    with reverts_with(chain.hub, "AmountTooLarge", 2**128):
        signed_by_payer(chain, payer, authorization(chain, payer, key.address, allowance=2**128))
    signed_by_payer(chain, payer, authorization(chain, payer, key.address, allowance=2**128 - 1))
    assert signer_of(chain, payer, key)[1] == 2**128 - 1


# --------------------------------------------------------------------- scope


def test_a_key_for_one_token_cannot_sign_for_another(chain: Chain) -> None:
    payer, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    other = chain.deploy("TestStablecoin")
    chain.allow_token(other)
    chain.send(other.functions.mint(payer.address, 10_000_000), payer)
    chain.deposit(payer, 10_000_000, token=other)
    chain.authorize_signer(payer, key.address, 5_000_000)

    receipt = chain.claim(
        [key_row(chain, key, payer, payee.address, 1_000_000, token=to_address(other.address))]
    )
    assert only_skip(chain, receipt) == skip_reason("SignerWrongToken")
    assert chain.balance(payer.address, token=other) == 10_000_000
    assert signer_of(chain, payer, key)[1] == 5_000_000


def test_a_key_of_one_payer_cannot_sign_for_another(chain: Chain) -> None:
    payer, victim, payee, key = chain.accounts[1], chain.accounts[3], chain.accounts[2], new_key()
    chain.deposit(victim, 10_000_000)
    chain.authorize_signer(payer, key.address, 5_000_000)

    receipt = chain.claim([key_row(chain, key, victim, payee.address, 1_000_000)])
    assert only_skip(chain, receipt) == skip_reason("BadSignature")
    assert chain.balance(victim.address) == 10_000_000


def test_a_new_authorization_replaces_the_allowance_and_clears_a_revocation(chain: Chain) -> None:
    payer, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    chain.deposit(payer, 10_000_000)
    chain.authorize_signer(payer, key.address, 1_000_000, nonce=0)
    chain.claim([key_row(chain, key, payer, payee.address, 300_000)])
    chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    assert signer_of(chain, payer, key)[3] != 0

    valid_until = chain.timestamp() + 10 * 86_400
    auth = chain.authorize_signer(payer, key.address, 5_000_000, valid_until=valid_until, nonce=1)
    assert signer_of(chain, payer, key) == (chain.usdc.address, 5_000_000, auth.valid_until, 0)

    chain.increase_time(WITHDRAW_DELAY + 1)
    receipt = chain.claim([key_row(chain, key, payer, payee.address, 2_300_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["signer"], claimed["amount"]) == (key.address, 2_000_000)
    assert signer_of(chain, payer, key)[1] == 3_000_000

"""Authorized signers: a payer (a smart wallet, or an EOA) names an ECDSA key on chain once with
authorizeSigner, and the key signs its vouchers and grants with its full authority until a revocation
takes effect. The hub never asks a wallet (EIP-1271) at claim time: the wallet could change its answer
after the operator acknowledged a voucher."""

from __future__ import annotations

from enum import IntEnum

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.types import TxReceipt

from tests.contracts.lanes import (
    claimed,
    claimed_event,
    make_grant,
    make_voucher,
    signed_block,
    skipped,
    skipped_event,
)
from tests.factories import Chain, new_key, reverts_with

DEPOSIT = 10_000_000
ZERO_ADDRESS = "0x" + "00" * 20


class Mode(IntEnum):
    """MockERC1271Wallet.Mode"""

    VALID = 0
    INVALID = 1
    REVERT = 2
    BURN_GAS = 3
    RETURN_BOMB = 4


def funded_wallet(chain: Chain, owner: LocalAccount) -> Contract:
    wallet = chain.deploy("MockERC1271Wallet", owner.address)
    chain.send(chain.usdc.functions.approve(chain.hub.address, DEPOSIT), chain.owner)
    chain.send(chain.hub.functions.depositFor(wallet.address, chain.usdc.address, DEPOSIT), chain.owner)
    return wallet


def as_wallet(chain: Chain, wallet: Contract, owner: LocalAccount, function: str, *args: object) -> TxReceipt:
    """The wallet sends hub.`function`(*args) (msg.sender = the wallet); returns the receipt."""
    data = bytes.fromhex(chain.hub.encode_abi(function, list(args))[2:])
    return chain.send(wallet.functions.execute(chain.hub.address, 0, data), owner)


def authorized_wallet(chain: Chain, owner: LocalAccount) -> Contract:
    wallet = funded_wallet(chain, owner)
    as_wallet(chain, wallet, owner, "authorizeSigner", owner.address)
    return wallet


def is_authorized(chain: Chain, payer: str, signer: str) -> bool:
    return bool(chain.hub.functions.isAuthorizedSigner(payer, signer).call())


def test_a_wallet_authorizes_its_owners_key_on_chain(chain: Chain) -> None:
    owner = chain.accounts[3]
    wallet = funded_wallet(chain, owner)
    assert not is_authorized(chain, wallet.address, owner.address)

    receipt = as_wallet(chain, wallet, owner, "authorizeSigner", owner.address)

    assert chain.events(receipt, "SignerAuthorized") == [{"payer": wallet.address, "signer": owner.address}]
    assert is_authorized(chain, wallet.address, owner.address)
    assert chain.hub.functions.revokedAt(wallet.address, owner.address).call() == 0


def test_a_wallet_payer_pays_with_its_authorized_key(chain: Chain) -> None:
    owner = chain.accounts[3]
    wallet = authorized_wallet(chain, owner)
    shop = new_key().address
    voucher = make_voucher(chain, wallet.address, {shop: 500})

    receipt = chain.claim([signed_block(chain, voucher, owner)])

    assert claimed(chain, receipt) == [claimed_event(voucher, owner.address, 500)]
    assert chain.balance(wallet.address) == DEPOSIT - 500


def test_an_eoa_payer_authorizes_a_key_too(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    chain.deposit(payer, DEPOSIT)
    receipt = chain.send(chain.hub.functions.authorizeSigner(key.address), payer)
    assert chain.events(receipt, "SignerAuthorized") == [{"payer": payer.address, "signer": key.address}]
    voucher = make_voucher(chain, payer.address, {new_key().address: 700}, lane=3)

    receipt = chain.claim([signed_block(chain, voucher, key)])

    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 700)]


def test_a_wallet_payer_grants_a_session_key_with_its_authorized_key(chain: Chain) -> None:
    owner, key = chain.accounts[3], new_key()
    wallet = authorized_wallet(chain, owner)
    grant = make_grant(chain, owner, key.address, max_total=1_000, payer_address=wallet.address)
    voucher = make_voucher(chain, wallet.address, {new_key().address: 500})

    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])

    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 500)]


def test_the_wallets_eip1271_answer_is_never_asked(chain: Chain) -> None:
    """A wallet that approves its owner's signature (EIP-1271), or reverts, burns gas or bombs, pays
    nothing without an authorization, and costs the claim nothing more."""
    owner, key = chain.accounts[3], new_key()
    wallet = funded_wallet(chain, owner)
    honest = chain.accounts[1]
    chain.deposit(honest, DEPOSIT)
    shop = new_key().address
    for mode in Mode:
        chain.send(wallet.functions.setMode(mode), owner)
        voucher = make_voucher(chain, wallet.address, {shop: 500}, lane=2 * mode)
        by_key = make_voucher(chain, wallet.address, {shop: 500}, lane=2 * mode + 1)
        grant = make_grant(
            chain, owner, key.address, max_total=1_000, lane=2 * mode + 1, payer_address=wallet.address
        )
        other = make_voucher(chain, honest.address, {shop: 100}, lane=mode)

        receipt = chain.claim(
            [
                signed_block(chain, voucher, owner),
                signed_block(chain, by_key, key, grant=grant),
                signed_block(chain, other, honest),
            ]
        )

        assert skipped(chain, receipt) == [
            skipped_event(voucher, "BadSignature"),
            skipped_event(by_key, "GrantInvalid"),
        ], mode.name
        assert claimed(chain, receipt) == [claimed_event(other, honest.address, 100)], mode.name
        assert receipt["gasUsed"] < 200_000, mode.name
    assert chain.balance(wallet.address) == DEPOSIT


def test_a_revoked_authorized_key_pays_until_one_second_before_the_revocation(chain: Chain) -> None:
    owner, session = chain.accounts[3], new_key()
    wallet = authorized_wallet(chain, owner)
    shop = new_key().address
    receipt = as_wallet(chain, wallet, owner, "revokeSigner", owner.address)
    [event] = chain.events(receipt, "SignerRevoked")
    effective_at = event["effectiveAt"]
    assert event == {"payer": wallet.address, "signer": owner.address, "effectiveAt": effective_at}
    first = make_voucher(chain, wallet.address, {shop: 100})
    second = make_voucher(chain, wallet.address, {shop: 200})
    grant = make_grant(
        chain, owner, session.address, max_total=1_000, lane=1, payer_address=wallet.address,
        valid_until=effective_at + 86_400,
    )  # fmt: skip
    by_session = make_voucher(chain, wallet.address, {shop: 300}, lane=1)

    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [effective_at - 1])  # type: ignore[arg-type]
    receipt = chain.claim([signed_block(chain, first, owner)])
    assert claimed(chain, receipt) == [claimed_event(first, owner.address, 100)]
    assert is_authorized(chain, wallet.address, owner.address)  # the latest block: effective_at - 1
    chain.w3.provider.make_request("evm_setNextBlockTimestamp", [effective_at])  # type: ignore[arg-type]
    receipt = chain.claim(
        [
            signed_block(chain, second, owner, previous=first.entries),
            signed_block(chain, by_session, session, grant=grant),
        ]
    )
    assert skipped(chain, receipt) == [
        skipped_event(second, "SignerRevoked"),
        skipped_event(by_session, "GrantInvalid"),
    ]
    assert not is_authorized(chain, wallet.address, owner.address)
    assert chain.balance(wallet.address) == DEPOSIT - 100


def test_a_revocation_is_never_postponed_and_cannot_be_undone_by_authorizing_again(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    chain.send(chain.hub.functions.authorizeSigner(key.address), payer)
    receipt = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    [event] = chain.events(receipt, "SignerRevoked")
    chain.increase_time(60)
    receipt = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    assert chain.events(receipt, "SignerRevoked") == [event]

    with reverts_with(chain.hub, "SignerAlreadyRevoked", key.address, event["effectiveAt"]):
        chain.send(chain.hub.functions.authorizeSigner(key.address), payer)


def test_the_zero_address_cannot_be_authorized(chain: Chain) -> None:
    with reverts_with(chain.hub, "InvalidSigner"):
        chain.send(chain.hub.functions.authorizeSigner(ZERO_ADDRESS), chain.accounts[1])


def test_a_key_authorized_by_one_payer_cannot_sign_for_another(chain: Chain) -> None:
    payer, victim, key = chain.accounts[1], chain.accounts[2], new_key()
    chain.deposit(victim, DEPOSIT)
    chain.send(chain.hub.functions.authorizeSigner(key.address), payer)
    voucher = make_voucher(chain, victim.address, {new_key().address: 100})
    session = new_key()
    grant = make_grant(chain, key, session.address, max_total=1_000, lane=1, payer_address=victim.address)
    by_session = make_voucher(chain, victim.address, {new_key().address: 100}, lane=1)

    receipt = chain.claim(
        [signed_block(chain, voucher, key), signed_block(chain, by_session, session, grant=grant)]
    )

    assert skipped(chain, receipt) == [
        skipped_event(voucher, "BadSignature"),
        skipped_event(by_session, "GrantInvalid"),
    ]
    assert not is_authorized(chain, victim.address, key.address)
    assert chain.balance(victim.address) == DEPOSIT

"""Contract payers (EIP-1271): their vouchers and grants are checked by the wallet, with a gas cap, and a
broken or hostile wallet only skips its own block."""

from __future__ import annotations

from enum import IntEnum

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from tests.contracts.lanes import (
    claimed,
    claimed_event,
    make_grant,
    make_voucher,
    signed_block,
    skipped,
    skipped_event,
)
from tests.factories import Chain, new_key

DEPOSIT = 10_000_000


class Mode(IntEnum):
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


def test_a_wallet_payer_pays_with_its_owners_signature(chain: Chain) -> None:
    owner = chain.accounts[3]
    wallet = funded_wallet(chain, owner)
    shop = new_key().address
    voucher = make_voucher(chain, wallet.address, {shop: 500})

    receipt = chain.claim([signed_block(chain, voucher, owner)])

    assert claimed(chain, receipt) == [claimed_event(voucher, wallet.address, 500)]
    assert chain.balance(wallet.address) == DEPOSIT - 500


def test_a_wallet_payer_grants_a_session_key(chain: Chain) -> None:
    owner, key = chain.accounts[3], new_key()
    wallet = funded_wallet(chain, owner)
    shop = new_key().address
    grant = make_grant(chain, owner, key.address, max_total=1_000, payer_address=wallet.address)
    voucher = make_voucher(chain, wallet.address, {shop: 500})

    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])

    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 500)]


def test_a_wallet_that_refuses_reverts_burns_gas_or_bombs_only_skips_its_block(chain: Chain) -> None:
    owner = chain.accounts[3]
    wallet = funded_wallet(chain, owner)
    honest = chain.accounts[1]
    chain.deposit(honest, DEPOSIT)
    shop = new_key().address
    for mode in (Mode.INVALID, Mode.REVERT, Mode.BURN_GAS, Mode.RETURN_BOMB):
        chain.send(wallet.functions.setMode(mode), owner)
        voucher = make_voucher(chain, wallet.address, {shop: 500}, lane=mode)
        other = make_voucher(chain, honest.address, {shop: 100}, lane=mode)

        receipt = chain.claim([signed_block(chain, voucher, owner), signed_block(chain, other, honest)])

        assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")], mode.name
        assert claimed(chain, receipt) == [claimed_event(other, honest.address, 100)], mode.name
        assert receipt["gasUsed"] < 400_000, mode.name
    assert chain.balance(wallet.address) == DEPOSIT


def test_a_wallet_that_refuses_the_grant_makes_it_invalid(chain: Chain) -> None:
    owner, key = chain.accounts[3], new_key()
    wallet = funded_wallet(chain, owner)
    grant = make_grant(chain, owner, key.address, max_total=1_000, payer_address=wallet.address)
    chain.send(wallet.functions.setMode(Mode.INVALID), owner)
    voucher = make_voucher(chain, wallet.address, {new_key().address: 500})

    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])

    assert skipped(chain, receipt) == [skipped_event(voucher, "GrantInvalid")]

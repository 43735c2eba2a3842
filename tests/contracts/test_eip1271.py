"""Smart-contract payers (EIP-1271): a valid wallet pays, and a broken or hostile one never hurts a batch."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract
from web3.types import TxReceipt

from app.core.eip712 import SignerAuthorization, digest, voucher_digest
from app.core.types import to_address
from tests.factories import (
    Chain,
    auth_tuple,
    claim_row,
    make_voucher,
    new_key,
    reverts_with,
    sign_digest,
    skip_reason,
)

VALID, INVALID, REVERT, BURN_GAS, RETURN_BOMB = range(5)
BATCH_GAS = 3_000_000


def funded_wallet(chain: Chain, owner: LocalAccount, amount: int = 10_000_000) -> Contract:
    """A MockERC1271Wallet owned by `owner` with `amount` deposited in the hub as its own balance."""
    wallet = chain.deploy("MockERC1271Wallet", owner.address)
    chain.send(chain.usdc.functions.mint(wallet.address, amount), owner)
    approve = chain.usdc.encode_abi("approve", args=[chain.hub.address, amount])
    chain.send(wallet.functions.execute(chain.usdc.address, 0, approve), owner)
    deposit = chain.hub.encode_abi("deposit", args=[chain.usdc.address, amount])
    chain.send(wallet.functions.execute(chain.hub.address, 0, deposit), owner)
    assert chain.balance(wallet.address) == amount
    return wallet


def set_mode(chain: Chain, wallet: Contract, owner: LocalAccount, mode: int) -> None:
    chain.send(wallet.functions.setMode(mode), owner)


def wallet_row(chain: Chain, wallet: Contract, key: LocalAccount, payee: str, cumulative: int) -> Any:
    """A voucher with the wallet as payer, signed (65 bytes) by `key`."""
    voucher = make_voucher(
        payer=to_address(wallet.address),
        payee=to_address(payee),
        token=to_address(chain.usdc.address),
        cumulative_amount=cumulative,
    )
    return claim_row(voucher, sign_digest(key.key, voucher_digest(chain.domain, voucher)))


def claim_with_gas(chain: Chain, rows: list[Any]) -> TxReceipt:
    """Sends a batch with a fixed generous gas limit, so gas estimation plays no part."""
    tx = chain.hub.functions.claim(rows).transact({"from": chain.owner.address, "gas": BATCH_GAS})
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"batch reverted: {receipt}"
    return receipt


def test_a_wallet_that_answers_valid_pays(chain: Chain) -> None:
    owner, payee = chain.accounts[1], chain.accounts[2]
    wallet = funded_wallet(chain, owner)

    receipt = chain.claim([wallet_row(chain, wallet, owner, payee.address, 1_500_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["payer"], claimed["signer"]) == (wallet.address, wallet.address)
    assert (claimed["amount"], claimed["claimed"]) == (1_500_000, 1_500_000)
    assert chain.balance(wallet.address) == 8_500_000
    assert chain.earnings(payee.address) == 1_500_000


def test_a_wallet_rejects_a_voucher_signed_by_someone_other_than_its_owner(chain: Chain) -> None:
    owner, payee = chain.accounts[1], chain.accounts[2]
    wallet = funded_wallet(chain, owner)

    receipt = chain.claim([wallet_row(chain, wallet, chain.accounts[3], payee.address, 1_000_000)])
    [skipped] = chain.events(receipt, "ClaimSkipped")
    assert skipped["reason"] == skip_reason("BadSignature")
    assert chain.balance(wallet.address) == 10_000_000


def test_a_wallet_that_answers_invalid_is_skipped(chain: Chain) -> None:
    owner, payee = chain.accounts[1], chain.accounts[2]
    wallet = funded_wallet(chain, owner)
    set_mode(chain, wallet, owner, INVALID)

    receipt = chain.claim([wallet_row(chain, wallet, owner, payee.address, 1_000_000)])
    assert chain.events(receipt, "Claimed") == []
    assert chain.events(receipt, "ClaimSkipped") == [
        {
            "payer": wallet.address,
            "payee": payee.address,
            "token": chain.usdc.address,
            "cumulativeAmount": 1_000_000,
            "reason": skip_reason("BadSignature"),
        }
    ]
    assert chain.balance(wallet.address) == 10_000_000


def assert_hostile_wallet_is_skipped_and_batch_goes_on(chain: Chain, mode: int) -> TxReceipt:
    owner, payee, good_payer = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    wallet = funded_wallet(chain, owner)
    set_mode(chain, wallet, owner, mode)
    chain.deposit(good_payer, 5_000_000)

    receipt = claim_with_gas(
        chain,
        [
            wallet_row(chain, wallet, owner, payee.address, 1_000_000),
            chain.signed_row(good_payer, payee.address, 700_000),
        ],
    )
    [skipped] = chain.events(receipt, "ClaimSkipped")
    assert (skipped["payer"], skipped["reason"]) == (wallet.address, skip_reason("BadSignature"))
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["payer"], claimed["amount"]) == (good_payer.address, 700_000)
    assert chain.earnings(payee.address) == 700_000
    assert chain.balance(wallet.address) == 10_000_000
    return receipt


def test_a_wallet_that_reverts_is_skipped_and_the_batch_goes_on(chain: Chain) -> None:
    assert_hostile_wallet_is_skipped_and_batch_goes_on(chain, REVERT)


def test_a_wallet_that_burns_gas_is_skipped_and_the_batch_goes_on(chain: Chain) -> None:
    receipt = assert_hostile_wallet_is_skipped_and_batch_goes_on(chain, BURN_GAS)
    assert receipt["gasUsed"] < 400_000


def test_a_wallet_that_returns_a_huge_blob_is_skipped_cheaply(chain: Chain) -> None:
    receipt = assert_hostile_wallet_is_skipped_and_batch_goes_on(chain, RETURN_BOMB)
    assert receipt["gasUsed"] < 400_000


def wallet_authorization(
    chain: Chain, wallet: Contract, key: LocalAccount, allowance: int
) -> SignerAuthorization:
    return SignerAuthorization(
        payer=to_address(wallet.address),
        signer=to_address(key.address),
        token=to_address(chain.usdc.address),
        allowance=allowance,
        valid_until=chain.timestamp() + 86_400,
        nonce=0,
    )


def test_a_wallet_registers_a_session_key_that_then_pays(chain: Chain) -> None:
    owner, payee, key = chain.accounts[1], chain.accounts[2], new_key()
    wallet = funded_wallet(chain, owner)
    auth = wallet_authorization(chain, wallet, key, 2_000_000)
    signature = sign_digest(owner.key, digest(chain.domain.separator, auth.struct_hash()))

    receipt = chain.send(chain.hub.functions.registerSigner(auth_tuple(auth), signature), chain.accounts[5])
    [registered] = chain.events(receipt, "SignerRegistered")
    assert (registered["payer"], registered["signer"], registered["allowance"]) == (
        wallet.address,
        key.address,
        2_000_000,
    )

    receipt = chain.claim([wallet_row(chain, wallet, key, payee.address, 1_200_000)])
    [claimed] = chain.events(receipt, "Claimed")
    assert (claimed["payer"], claimed["signer"], claimed["amount"]) == (
        wallet.address,
        key.address,
        1_200_000,
    )
    assert chain.hub.functions.signerOf(wallet.address, key.address).call()[1] == 800_000
    assert chain.balance(wallet.address) == 8_800_000


def test_a_wallet_that_answers_invalid_cannot_register_a_session_key(chain: Chain) -> None:
    owner, key = chain.accounts[1], new_key()
    wallet = funded_wallet(chain, owner)
    set_mode(chain, wallet, owner, INVALID)
    auth = wallet_authorization(chain, wallet, key, 2_000_000)
    signature = sign_digest(owner.key, digest(chain.domain.separator, auth.struct_hash()))

    with reverts_with(chain.hub, "InvalidAuthorizationSignature"):
        chain.send(chain.hub.functions.registerSigner(auth_tuple(auth), signature), chain.accounts[5])
    assert not chain.hub.functions.isNonceUsed(wallet.address, 0).call()

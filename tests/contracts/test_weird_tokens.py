"""Non-standard ERC-20s against every hub entry point that moves tokens: each operation either succeeds
with exact balances or reverts with an exact error and leaves the hub's accounting untouched."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from tests.contracts.lanes import pay, pay_channel
from tests.factories import Chain, reverts_with

FUNDS = 10_000_000


def listed_token(chain: Chain, name: str, holders: list[LocalAccount]) -> Contract:
    """Deploys the mock token `name`, allow-lists it in the hub and mints FUNDS to each holder."""
    token = chain.deploy(name)
    chain.allow_token(token)
    for holder in holders:
        chain.send(token.functions.mint(holder.address, FUNDS), chain.owner)
    return token


def held(token: Contract, holder: str) -> int:
    return int(token.functions.balanceOf(holder).call())


def deposit_for(chain: Chain, sender: LocalAccount, payer: str, token: Contract, amount: int) -> Any:
    chain.send(token.functions.approve(chain.hub.address, amount), sender)
    return chain.send(chain.hub.functions.depositFor(payer, token.address, amount), sender)


def request_and_wait(chain: Chain, payer: LocalAccount, token: Contract, amount: int) -> None:
    chain.send(chain.hub.functions.requestWithdrawal(token.address, amount), payer)
    chain.increase_time(chain.hub.functions.withdrawDelay().call())


def earn(
    chain: Chain, payer: LocalAccount, payee: str, token: Contract, cumulative: int, paid: int = 0
) -> None:
    """A claim of the channel's voucher for `cumulative` (`paid` already claimed); the payer has enough."""
    receipt = pay_channel(chain, payer, payee, cumulative, paid, token=token)
    [event] = chain.events(receipt, "VoucherClaimed")
    assert event["amount"] == cumulative - paid


def snapshot(chain: Chain, token: Contract, addresses: list[str]) -> dict[str, Any]:
    """Everything a failed operation must leave unchanged: hub accounting and token balances."""
    return {
        "hub_holds": held(token, chain.hub.address),
        **{
            address: (
                chain.balance(address, token),
                tuple(chain.hub.functions.withdrawalOf(address, token.address).call()),
                chain.earnings(address, token),
                held(token, address),
            )
            for address in addresses
        },
    }


def assert_solvent(chain: Chain, token: Contract, addresses: list[str]) -> None:
    """The hub holds exactly what it owes: every payer balance plus every earning."""
    owed = sum(chain.balance(a, token) + chain.earnings(a, token) for a in addresses)
    assert held(token, chain.hub.address) == owed


# ------------------------------------------------------------------ NoReturnToken


def test_a_token_without_return_values_works_everywhere(chain: Chain) -> None:
    payer, sponsor, payee, recipient = chain.accounts[1:5]
    token = listed_token(chain, "NoReturnToken", [payer, sponsor])
    everyone = [a.address for a in (payer, sponsor, payee, recipient)]

    chain.deposit(payer, 3_000_000, token=token)
    deposit_for(chain, sponsor, payer.address, token, 1_000_000)
    assert chain.balance(payer.address, token) == 4_000_000
    assert held(token, payer.address) == FUNDS - 3_000_000
    assert held(token, sponsor.address) == FUNDS - 1_000_000
    assert_solvent(chain, token, everyone)

    earn(chain, payer, payee.address, token, 1_500_000)
    assert chain.earnings(payee.address, token) == 1_500_000
    assert chain.balance(payer.address, token) == 2_500_000

    request_and_wait(chain, payer, token, 2_000_000)
    receipt = chain.send(chain.hub.functions.withdraw(token.address), payer)
    assert chain.events(receipt, "Withdrawn") == [
        {"payer": payer.address, "token": token.address, "amount": 2_000_000}
    ]
    assert held(token, payer.address) == FUNDS - 1_000_000
    assert chain.balance(payer.address, token) == 500_000

    chain.send(chain.hub.functions.withdrawEarnings(token.address, recipient.address), payee)
    assert held(token, recipient.address) == 1_500_000
    assert chain.earnings(payee.address, token) == 0
    assert held(token, chain.hub.address) == 500_000
    assert_solvent(chain, token, everyone)


# --------------------------------------------------------------- FalseReturnToken


def test_a_false_returning_deposit_without_funds_reverts(chain: Chain) -> None:
    payer, sponsor = chain.accounts[1], chain.accounts[2]
    token = listed_token(chain, "FalseReturnToken", [])
    before = snapshot(chain, token, [payer.address, sponsor.address])

    with reverts_with(chain.hub, "SafeERC20FailedOperation", token.address):
        chain.deposit(payer, 1_000_000, token=token)
    with reverts_with(chain.hub, "SafeERC20FailedOperation", token.address):
        deposit_for(chain, sponsor, payer.address, token, 1_000_000)
    assert snapshot(chain, token, [payer.address, sponsor.address]) == before


def test_a_false_returning_deposit_without_allowance_reverts(chain: Chain) -> None:
    payer = chain.accounts[1]
    token = listed_token(chain, "FalseReturnToken", [payer])
    with reverts_with(chain.hub, "SafeERC20FailedOperation", token.address):
        chain.send(chain.hub.functions.deposit(token.address, 1_000_000), payer)
    assert chain.balance(payer.address, token) == 0
    assert held(token, payer.address) == FUNDS


def test_a_false_returning_token_works_while_it_succeeds(chain: Chain) -> None:
    payer, sponsor, payee = chain.accounts[1:4]
    token = listed_token(chain, "FalseReturnToken", [payer, sponsor])

    chain.deposit(payer, 2_000_000, token=token)
    deposit_for(chain, sponsor, payer.address, token, 1_000_000)
    earn(chain, payer, payee.address, token, 500_000)
    request_and_wait(chain, payer, token, 2_500_000)
    chain.send(chain.hub.functions.withdraw(token.address), payer)
    chain.send(chain.hub.functions.withdrawEarnings(token.address, payee.address), payee)

    assert held(token, payer.address) == FUNDS - 2_000_000 + 2_500_000
    assert held(token, payee.address) == 500_000
    assert held(token, chain.hub.address) == 0
    assert chain.balance(payer.address, token) == 0


def test_a_failing_payout_reverts_and_keeps_the_accounting(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    token = listed_token(chain, "FalseReturnToken", [payer])
    chain.deposit(payer, 3_000_000, token=token)
    earn(chain, payer, payee.address, token, 1_000_000)
    request_and_wait(chain, payer, token, 2_000_000)
    chain.send(token.functions.setAlwaysFail(True), chain.owner)
    before = snapshot(chain, token, [payer.address, payee.address])

    with reverts_with(chain.hub, "SafeERC20FailedOperation", token.address):
        chain.send(chain.hub.functions.withdraw(token.address), payer)
    with reverts_with(chain.hub, "SafeERC20FailedOperation", token.address):
        chain.send(chain.hub.functions.withdrawEarnings(token.address, payee.address), payee)
    with reverts_with(chain.hub, "SafeERC20FailedOperation", token.address):
        chain.deposit(payer, 1_000_000, token=token)
    assert snapshot(chain, token, [payer.address, payee.address]) == before
    assert chain.balance(payer.address, token) == 2_000_000
    assert chain.earnings(payee.address, token) == 1_000_000

    chain.send(token.functions.setAlwaysFail(False), chain.owner)
    chain.send(chain.hub.functions.withdraw(token.address), payer)
    chain.send(chain.hub.functions.withdrawEarnings(token.address, payee.address), payee)
    assert held(token, payer.address) == FUNDS - 1_000_000
    assert held(token, payee.address) == 1_000_000
    assert held(token, chain.hub.address) == 0


# ------------------------------------------------------------- FeeOnTransferToken


def test_a_fee_on_transfer_token_is_refused_by_deposit_and_deposit_for(chain: Chain) -> None:
    payer, sponsor = chain.accounts[1], chain.accounts[2]
    token = listed_token(chain, "FeeOnTransferToken", [payer, sponsor])
    before = snapshot(chain, token, [payer.address, sponsor.address])

    with reverts_with(chain.hub, "TransferAmountMismatch", 1_000_000, 990_000):
        chain.deposit(payer, 1_000_000, token=token)
    with reverts_with(chain.hub, "TransferAmountMismatch", 1_000_000, 990_000):
        deposit_for(chain, sponsor, payer.address, token, 1_000_000)
    assert snapshot(chain, token, [payer.address, sponsor.address]) == before


# ----------------------------------------------------------------- BlocklistToken


def test_a_blocked_payer_cannot_deposit(chain: Chain) -> None:
    payer = chain.accounts[1]
    token = listed_token(chain, "BlocklistToken", [payer])
    chain.send(token.functions.blockAccount(payer.address), chain.owner)
    with reverts_with(token, "Blocked", payer.address):
        chain.deposit(payer, 1_000_000, token=token)
    assert chain.balance(payer.address, token) == 0
    assert held(token, chain.hub.address) == 0


def test_nobody_can_deposit_for_a_payer_with_a_blocked_wallet_from_it(chain: Chain) -> None:
    sponsor, payer = chain.accounts[1], chain.accounts[2]
    token = listed_token(chain, "BlocklistToken", [sponsor])
    chain.send(token.functions.blockAccount(sponsor.address), chain.owner)
    with reverts_with(token, "Blocked", sponsor.address):
        deposit_for(chain, sponsor, payer.address, token, 1_000_000)
    assert chain.balance(payer.address, token) == 0


def test_a_blocked_payee_still_earns_and_withdraws_only_elsewhere(chain: Chain) -> None:
    payer, payee, other = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    token = listed_token(chain, "BlocklistToken", [payer])
    chain.deposit(payer, 3_000_000, token=token)
    earn(chain, payer, payee.address, token, 1_000_000)
    chain.send(token.functions.blockAccount(payee.address), chain.owner)
    # Claims move no tokens, so a blocked payee keeps earning.
    earn(chain, payer, payee.address, token, 1_500_000, paid=1_000_000)
    assert chain.earnings(payee.address, token) == 1_500_000

    with reverts_with(token, "Blocked", payee.address):
        chain.send(chain.hub.functions.withdrawEarnings(token.address, payee.address), payee)
    assert chain.earnings(payee.address, token) == 1_500_000

    chain.send(chain.hub.functions.withdrawEarnings(token.address, other.address), payee)
    assert held(token, other.address) == 1_500_000
    assert chain.earnings(payee.address, token) == 0
    assert held(token, chain.hub.address) == 1_500_000


def test_a_payer_blocked_after_depositing_cannot_withdraw_and_keeps_its_balance(chain: Chain) -> None:
    payer = chain.accounts[1]
    token = listed_token(chain, "BlocklistToken", [payer])
    chain.deposit(payer, 2_000_000, token=token)
    request_and_wait(chain, payer, token, 2_000_000)
    chain.send(token.functions.blockAccount(payer.address), chain.owner)
    before = snapshot(chain, token, [payer.address])

    with reverts_with(token, "Blocked", payer.address):
        chain.send(chain.hub.functions.withdraw(token.address), payer)
    assert snapshot(chain, token, [payer.address]) == before
    assert chain.balance(payer.address, token) == 2_000_000

    chain.send(token.functions.unblockAccount(payer.address), chain.owner)
    chain.send(chain.hub.functions.withdraw(token.address), payer)
    assert held(token, payer.address) == FUNDS


# ----------------------------------------------------------------- ReentrantToken


def arm(chain: Chain, token: Contract, function: str, *args: Any) -> None:
    """Makes the token's next transfer/transferFrom call hub.`function`(*args) first."""
    data = chain.hub.encode_abi(function, args=list(args))
    chain.send(token.functions.arm(chain.hub.address, data), chain.owner)


def reentrant_setup(chain: Chain) -> tuple[Contract, LocalAccount, LocalAccount, list[str]]:
    """A reentrant token where payer accounts[1] has deposited, earned accounts[2] some, and can withdraw."""
    payer, payee = chain.accounts[1], chain.accounts[2]
    token = listed_token(chain, "ReentrantToken", [payer])
    chain.deposit(payer, 3_000_000, token=token)
    earn(chain, payer, payee.address, token, 1_000_000)
    request_and_wait(chain, payer, token, 1_000_000)
    return token, payer, payee, [payer.address, payee.address]


def test_reentering_withdraw_from_a_deposit_reverts(chain: Chain) -> None:
    token, payer, _, watched = reentrant_setup(chain)
    arm(chain, token, "withdraw", token.address)
    before = snapshot(chain, token, watched)
    with reverts_with(chain.hub, "ReentrancyGuardReentrantCall"):
        chain.deposit(payer, 1_000_000, token=token)
    assert snapshot(chain, token, watched) == before


def test_reentering_deposit_from_a_deposit_for_reverts(chain: Chain) -> None:
    token, payer, payee, watched = reentrant_setup(chain)
    arm(chain, token, "deposit", token.address, 1)
    before = snapshot(chain, token, watched)
    with reverts_with(chain.hub, "ReentrancyGuardReentrantCall"):
        deposit_for(chain, payer, payee.address, token, 1_000_000)
    assert snapshot(chain, token, watched) == before


def test_reentering_deposit_from_a_withdrawal_reverts(chain: Chain) -> None:
    token, payer, _, watched = reentrant_setup(chain)
    arm(chain, token, "deposit", token.address, 1)
    before = snapshot(chain, token, watched)
    with reverts_with(chain.hub, "ReentrancyGuardReentrantCall"):
        chain.send(chain.hub.functions.withdraw(token.address), payer)
    assert snapshot(chain, token, watched) == before


def test_reentering_withdraw_earnings_from_withdraw_earnings_reverts(chain: Chain) -> None:
    token, _, payee, watched = reentrant_setup(chain)
    arm(chain, token, "withdrawEarnings", token.address, payee.address)
    before = snapshot(chain, token, watched)
    with reverts_with(chain.hub, "ReentrancyGuardReentrantCall"):
        chain.send(chain.hub.functions.withdrawEarnings(token.address, payee.address), payee)
    assert snapshot(chain, token, watched) == before


def test_a_reentrant_token_works_once_disarmed(chain: Chain) -> None:
    token, payer, payee, watched = reentrant_setup(chain)
    arm(chain, token, "withdraw", token.address)
    chain.send(token.functions.disarm(), chain.owner)

    chain.send(chain.hub.functions.withdraw(token.address), payer)
    chain.send(chain.hub.functions.withdrawEarnings(token.address, payee.address), payee)
    assert held(token, payer.address) == FUNDS - 3_000_000 + 1_000_000
    assert held(token, payee.address) == 1_000_000
    assert chain.balance(payer.address, token) == 1_000_000
    assert_solvent(chain, token, watched)


# ---------------------------------------------------------------- TestStablecoin


def test_the_hub_holds_exactly_what_it_owes_after_a_mixed_sequence(chain: Chain) -> None:
    alice, bob, carol, shop, blog, treasury = chain.accounts[1:7]
    usdc = chain.usdc
    everyone = [a.address for a in chain.accounts]
    chain.send(chain.hub.functions.setFee(50, treasury.address), chain.owner)

    chain.deposit(alice, 10_000_000)
    chain.deposit(bob, 5_000_000)
    deposit_for(chain, carol, bob.address, usdc, 2_000_000)
    assert_solvent(chain, usdc, everyone)

    pay(chain, alice, {shop.address: 3_333_333, blog.address: 777_777})
    pay(chain, bob, {shop.address: 1_000_001})
    assert_solvent(chain, usdc, everyone)
    assert chain.earnings(treasury.address) > 0

    request_and_wait(chain, alice, usdc, 4_000_000)
    # A claim during the delay takes from the balance before the withdrawal pays what is left.
    pay(
        chain,
        alice,
        {shop.address: 6_000_000, blog.address: 777_777},
        {shop.address: 3_333_333, blog.address: 777_777},
    )
    chain.send(chain.hub.functions.withdraw(usdc.address), alice)
    assert_solvent(chain, usdc, everyone)

    chain.send(chain.hub.functions.withdrawEarnings(usdc.address, shop.address), shop)
    chain.send(chain.hub.functions.withdrawEarnings(usdc.address, carol.address), treasury)
    pay(chain, bob, {shop.address: 1_000_001, blog.address: 5_999_999}, {shop.address: 1_000_001})
    chain.deposit(alice, 1)
    assert_solvent(chain, usdc, everyone)
    assert chain.balance(bob.address) == 0
    assert held(usdc, chain.hub.address) > 0

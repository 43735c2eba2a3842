"""A payer's delayed withdrawal: the delay lets pending vouchers be claimed; only the payer controls it."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from tests.conftest import WITHDRAW_DELAY
from tests.contracts.lanes import pay
from tests.factories import Chain, reverts_with


def block_time(chain: Chain, receipt: TxReceipt) -> int:
    return int(chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def token_balance(chain: Chain, account: LocalAccount) -> int:
    return int(chain.usdc.functions.balanceOf(account.address).call())


def request(chain: Chain, payer: LocalAccount, amount: int) -> TxReceipt:
    return chain.send(chain.hub.functions.requestWithdrawal(chain.usdc.address, amount), payer)


def withdraw(chain: Chain, payer: LocalAccount) -> TxReceipt:
    return chain.send(chain.hub.functions.withdraw(chain.usdc.address), payer)


def withdrawal_of(chain: Chain, payer: LocalAccount) -> tuple[int, int]:
    amount, available_at = chain.hub.functions.withdrawalOf(payer.address, chain.usdc.address).call()
    return int(amount), int(available_at)


def test_a_requested_withdrawal_is_paid_after_the_delay(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)

    receipt = request(chain, payer, 4_000_000)
    available_at = block_time(chain, receipt) + WITHDRAW_DELAY
    assert chain.events(receipt, "WithdrawalRequested") == [
        {
            "payer": payer.address,
            "token": chain.usdc.address,
            "amount": 4_000_000,
            "availableAt": available_at,
        }
    ]
    assert withdrawal_of(chain, payer) == (4_000_000, available_at)

    with reverts_with(chain.hub, "WithdrawalNotReady", available_at):
        withdraw(chain, payer)

    chain.increase_time(WITHDRAW_DELAY)
    before = token_balance(chain, payer)
    receipt = withdraw(chain, payer)
    assert chain.events(receipt, "Withdrawn") == [
        {"payer": payer.address, "token": chain.usdc.address, "amount": 4_000_000}
    ]
    assert token_balance(chain, payer) == before + 4_000_000
    assert chain.balance(payer.address) == 6_000_000
    assert withdrawal_of(chain, payer) == (0, 0)


def test_claims_during_the_delay_are_honoured_and_withdraw_pays_what_is_left(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, 10_000_000)
    request(chain, payer, 10_000_000)

    receipt = pay(chain, payer, {payee.address: 3_000_000})
    [claimed] = chain.events(receipt, "VoucherClaimed")
    assert claimed["amount"] == 3_000_000
    assert chain.earnings(payee.address) == 3_000_000

    chain.increase_time(WITHDRAW_DELAY)
    before = token_balance(chain, payer)
    receipt = withdraw(chain, payer)
    [withdrawn] = chain.events(receipt, "Withdrawn")
    assert withdrawn["amount"] == 7_000_000
    assert token_balance(chain, payer) == before + 7_000_000
    assert chain.balance(payer.address) == 0


def test_withdraw_pays_the_requested_amount_when_the_balance_covers_it(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)
    request(chain, payer, 2_500_000)
    chain.increase_time(WITHDRAW_DELAY)

    before = token_balance(chain, payer)
    [withdrawn] = chain.events(withdraw(chain, payer), "Withdrawn")
    assert withdrawn["amount"] == 2_500_000
    assert token_balance(chain, payer) == before + 2_500_000
    assert chain.balance(payer.address) == 7_500_000


def test_a_third_party_cannot_cancel_the_payers_withdrawal(chain: Chain) -> None:
    payer, stranger = chain.accounts[1], chain.accounts[3]
    chain.deposit(payer, 10_000_000)
    request(chain, payer, 5_000_000)
    pending = withdrawal_of(chain, payer)

    with reverts_with(chain.hub, "NoWithdrawalPending"):
        chain.send(chain.hub.functions.cancelWithdrawal(chain.usdc.address), stranger)
    assert withdrawal_of(chain, payer) == pending


def test_a_deposit_by_a_third_party_does_not_restart_the_timer(chain: Chain) -> None:
    payer, stranger = chain.accounts[1], chain.accounts[3]
    chain.deposit(payer, 10_000_000)
    request(chain, payer, 5_000_000)
    pending = withdrawal_of(chain, payer)

    chain.increase_time(600)
    chain.send(chain.usdc.functions.approve(chain.hub.address, 1_000_000), stranger)
    chain.send(chain.hub.functions.depositFor(payer.address, chain.usdc.address, 1_000_000), stranger)
    assert withdrawal_of(chain, payer) == pending
    assert chain.balance(payer.address) == 11_000_000

    chain.increase_time(WITHDRAW_DELAY - 600)
    [withdrawn] = chain.events(withdraw(chain, payer), "Withdrawn")
    assert withdrawn["amount"] == 5_000_000


def test_a_third_partys_request_only_affects_its_own_account(chain: Chain) -> None:
    payer, stranger = chain.accounts[1], chain.accounts[3]
    chain.deposit(payer, 10_000_000)
    chain.deposit(stranger, 2_000_000)
    request(chain, payer, 5_000_000)
    pending = withdrawal_of(chain, payer)

    chain.increase_time(600)
    receipt = request(chain, stranger, 2_000_000)
    [event] = chain.events(receipt, "WithdrawalRequested")
    assert event["payer"] == stranger.address
    assert withdrawal_of(chain, payer) == pending
    assert withdrawal_of(chain, stranger) == (2_000_000, block_time(chain, receipt) + WITHDRAW_DELAY)

    with reverts_with(chain.hub, "InsufficientBalance", 0, 1):
        chain.send(chain.hub.functions.requestWithdrawal(chain.usdc.address, 1), chain.accounts[4])
    assert withdrawal_of(chain, payer) == pending


def test_the_payer_cancels_its_withdrawal(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)
    request(chain, payer, 5_000_000)

    receipt = chain.send(chain.hub.functions.cancelWithdrawal(chain.usdc.address), payer)
    assert chain.events(receipt, "WithdrawalCancelled") == [
        {"payer": payer.address, "token": chain.usdc.address}
    ]
    assert withdrawal_of(chain, payer) == (0, 0)

    chain.increase_time(WITHDRAW_DELAY)
    with reverts_with(chain.hub, "NoWithdrawalPending"):
        withdraw(chain, payer)
    with reverts_with(chain.hub, "NoWithdrawalPending"):
        chain.send(chain.hub.functions.cancelWithdrawal(chain.usdc.address), payer)
    assert chain.balance(payer.address) == 10_000_000


def test_withdraw_without_a_request_reverts(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)
    with reverts_with(chain.hub, "NoWithdrawalPending"):
        withdraw(chain, payer)


def test_requesting_more_than_the_balance_reverts(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)
    with reverts_with(chain.hub, "InsufficientBalance", 10_000_000, 10_000_001):
        request(chain, payer, 10_000_001)
    assert withdrawal_of(chain, payer) == (0, 0)


def test_requesting_zero_reverts(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)
    with reverts_with(chain.hub, "ZeroAmount"):
        request(chain, payer, 0)


def test_a_second_request_restarts_the_timer(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 10_000_000)
    first = block_time(chain, request(chain, payer, 5_000_000)) + WITHDRAW_DELAY

    chain.increase_time(1_800)
    receipt = request(chain, payer, 3_000_000)
    second = block_time(chain, receipt) + WITHDRAW_DELAY
    assert second >= first + 1_800
    assert withdrawal_of(chain, payer) == (3_000_000, second)

    chain.increase_time(WITHDRAW_DELAY - 1_800)
    assert chain.timestamp() >= first
    with reverts_with(chain.hub, "WithdrawalNotReady", second):
        withdraw(chain, payer)

    chain.increase_time(1_800)
    [withdrawn] = chain.events(withdraw(chain, payer), "Withdrawn")
    assert withdrawn["amount"] == 3_000_000


def test_a_withdrawal_whose_balance_was_claimed_away_pays_zero_and_clears(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, 10_000_000)
    request(chain, payer, 10_000_000)
    pay(chain, payer, {payee.address: 10_000_000})
    assert chain.balance(payer.address) == 0

    chain.increase_time(WITHDRAW_DELAY)
    before = token_balance(chain, payer)
    receipt = withdraw(chain, payer)
    assert chain.events(receipt, "Withdrawn") == [
        {"payer": payer.address, "token": chain.usdc.address, "amount": 0}
    ]
    assert token_balance(chain, payer) == before
    assert withdrawal_of(chain, payer) == (0, 0)
    with reverts_with(chain.hub, "NoWithdrawalPending"):
        withdraw(chain, payer)

"""Owner-only administration of the hub: the token allow-list, the fee, the operator, two-step ownership
transfer, and the constructor's bounds."""

from __future__ import annotations

from tests.factories import Chain, new_key, reverts_with

THIRTY_DAYS = 30 * 24 * 3600
ZERO_ADDRESS = "0x" + "00" * 20


def test_only_the_owner_can_allow_a_token(chain: Chain) -> None:
    stranger = chain.accounts[3]
    token = chain.deploy("TestStablecoin")
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", stranger.address):
        chain.send(chain.hub.functions.setTokenAllowed(token.address, True), stranger)
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", stranger.address):
        chain.send(chain.hub.functions.setTokenAllowed(chain.usdc.address, False), stranger)
    assert chain.hub.functions.isTokenAllowed(token.address).call() is False
    assert chain.hub.functions.isTokenAllowed(chain.usdc.address).call() is True
    assert chain.hub.functions.tokens().call() == [chain.usdc.address]


def test_only_the_owner_can_set_the_fee(chain: Chain) -> None:
    stranger = chain.accounts[3]
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", stranger.address):
        chain.send(chain.hub.functions.setFee(100, stranger.address), stranger)
    assert chain.hub.functions.feeBps().call() == 0


def test_the_owner_sets_the_fee(chain: Chain) -> None:
    recipient = chain.accounts[9].address
    receipt = chain.send(chain.hub.functions.setFee(100, recipient), chain.owner)
    assert chain.events(receipt, "FeeSet") == [{"feeBps": 100, "recipient": recipient}]
    assert chain.hub.functions.feeBps().call() == 100
    assert chain.hub.functions.feeRecipient().call() == recipient


def test_a_fee_above_the_cap_or_without_recipient_is_refused(chain: Chain) -> None:
    recipient = chain.accounts[9].address
    with reverts_with(chain.hub, "FeeTooHigh", 101, 100):
        chain.send(chain.hub.functions.setFee(101, recipient), chain.owner)
    with reverts_with(chain.hub, "InvalidRecipient"):
        chain.send(chain.hub.functions.setFee(1, "0x" + "00" * 20), chain.owner)
    assert chain.hub.functions.feeBps().call() == 0


def test_an_address_without_code_cannot_be_listed(chain: Chain) -> None:
    eoa = new_key().address
    with reverts_with(chain.hub, "TokenNotAllowed", eoa):
        chain.send(chain.hub.functions.setTokenAllowed(eoa, True), chain.owner)
    assert chain.hub.functions.tokens().call() == [chain.usdc.address]
    assert chain.hub.functions.isTokenAllowed(eoa).call() is False


def test_listing_a_token_emits_token_allowed_and_allows_it(chain: Chain) -> None:
    token = chain.deploy("NoReturnToken")
    receipt = chain.send(chain.hub.functions.setTokenAllowed(token.address, True), chain.owner)
    assert chain.events(receipt, "TokenAllowed") == [{"token": token.address, "allowed": True}]
    assert chain.hub.functions.isTokenAllowed(token.address).call() is True

    receipt = chain.send(chain.hub.functions.setTokenAllowed(token.address, False), chain.owner)
    assert chain.events(receipt, "TokenAllowed") == [{"token": token.address, "allowed": False}]
    assert chain.hub.functions.isTokenAllowed(token.address).call() is False


def test_tokens_lists_every_token_ever_listed_once(chain: Chain) -> None:
    first, second = chain.deploy("NoReturnToken"), chain.deploy("TestStablecoin")
    chain.allow_token(first)
    chain.allow_token(second, False)  # listed although never allowed
    chain.allow_token(first, False)
    chain.allow_token(first)
    chain.allow_token(chain.usdc, False)
    chain.allow_token(chain.usdc)

    assert chain.hub.functions.tokens().call() == [chain.usdc.address, first.address, second.address]
    assert chain.hub.functions.isTokenAllowed(chain.usdc.address).call() is True
    assert chain.hub.functions.isTokenAllowed(first.address).call() is True
    assert chain.hub.functions.isTokenAllowed(second.address).call() is False


def test_ownership_moves_in_two_steps(chain: Chain) -> None:
    old, new, stranger = chain.owner, chain.accounts[1], chain.accounts[2]
    chain.send(chain.hub.functions.transferOwnership(new.address), old)
    assert chain.hub.functions.owner().call() == old.address
    assert chain.hub.functions.pendingOwner().call() == new.address

    # Until it accepts, the new owner has no power and the old one still rules.
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", new.address):
        chain.send(chain.hub.functions.setFee(10, new.address), new)
    chain.send(chain.hub.functions.setFee(10, old.address), old)
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", stranger.address):
        chain.send(chain.hub.functions.acceptOwnership(), stranger)

    chain.send(chain.hub.functions.acceptOwnership(), new)
    assert chain.hub.functions.owner().call() == new.address
    assert chain.hub.functions.pendingOwner().call() == "0x" + "00" * 20
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", old.address):
        chain.send(chain.hub.functions.setFee(20, old.address), old)
    chain.send(chain.hub.functions.setFee(20, new.address), new)
    assert chain.hub.functions.feeRecipient().call() == new.address


def test_the_constructor_refuses_a_withdraw_delay_above_thirty_days(chain: Chain) -> None:
    with reverts_with(chain.hub, "InvalidWithdrawDelay", THIRTY_DAYS + 1):
        chain.deploy("MicropaymentHub", chain.owner.address, chain.owner.address, THIRTY_DAYS + 1)


def test_the_constructor_refuses_a_withdraw_delay_below_ten_minutes(chain: Chain) -> None:
    for delay in (0, 1, 599):
        with reverts_with(chain.hub, "InvalidWithdrawDelay", delay):
            chain.deploy("MicropaymentHub", chain.owner.address, chain.owner.address, delay)


def test_the_constructor_accepts_a_withdraw_delay_of_ten_minutes(chain: Chain) -> None:
    hub = chain.deploy("MicropaymentHub", chain.owner.address, chain.owner.address, 600)
    assert hub.functions.withdrawDelay().call() == 600
    assert hub.functions.MIN_WITHDRAW_DELAY().call() == 600


def test_the_constructor_accepts_a_withdraw_delay_of_thirty_days(chain: Chain) -> None:
    operator = chain.accounts[5].address
    hub = chain.deploy("MicropaymentHub", chain.owner.address, operator, THIRTY_DAYS)
    assert hub.functions.withdrawDelay().call() == THIRTY_DAYS
    assert hub.functions.owner().call() == chain.owner.address
    assert hub.functions.operator().call() == operator


def test_the_constructor_refuses_a_zero_operator(chain: Chain) -> None:
    with reverts_with(chain.hub, "InvalidOperator"):
        chain.deploy("MicropaymentHub", chain.owner.address, ZERO_ADDRESS, 3600)


def test_the_deployer_is_the_operator_by_default(chain: Chain) -> None:
    assert chain.hub.functions.operator().call() == chain.owner.address
    assert chain.deployment.operator == chain.owner.address


def test_only_the_owner_names_the_operator(chain: Chain) -> None:
    stranger, operator = chain.accounts[3], chain.accounts[4]
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", stranger.address):
        chain.send(chain.hub.functions.setOperator(stranger.address), stranger)
    with reverts_with(chain.hub, "InvalidOperator"):
        chain.send(chain.hub.functions.setOperator(ZERO_ADDRESS), chain.owner)

    receipt = chain.send(chain.hub.functions.setOperator(operator.address), chain.owner)
    assert chain.events(receipt, "OperatorSet") == [{"operator": operator.address}]
    assert chain.hub.functions.operator().call() == operator.address

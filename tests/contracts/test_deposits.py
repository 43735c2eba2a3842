"""Deposits into the hub: plain, on behalf of another payer, gasless by EIP-2612 permit and by EIP-3009
authorization, and the refusals (zero, unlisted or disallowed token, too large, fee-on-transfer)."""

from __future__ import annotations

import os
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import Contract

from tests.factories import Chain, new_key, reverts_with

DEADLINE_MARGIN = 3_600


def token_domain(token: Contract) -> dict[str, Any]:
    """The EIP-712 domain a token signs permits and authorizations over, read from its `eip712Domain()`."""
    _, name, version, chain_id, verifying_contract, _, _ = token.functions.eip712Domain().call()
    return {"name": name, "version": version, "chainId": chain_id, "verifyingContract": verifying_contract}


def sign_permit(
    token: Contract, owner: LocalAccount, spender: str, value: int, deadline: int, nonce: int | None = None
) -> tuple[int, bytes, bytes]:
    """An EIP-2612 permit signed by `owner`, as (v, r, s)."""
    message = {
        "types": {
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": token_domain(token),
        "message": {
            "owner": owner.address,
            "spender": spender,
            "value": value,
            "nonce": token.functions.nonces(owner.address).call() if nonce is None else nonce,
            "deadline": deadline,
        },
    }
    signed = Account.sign_typed_data(owner.key, full_message=message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def sign_receive_authorization(
    token: Contract,
    payer: LocalAccount,
    to: str,
    value: int,
    valid_after: int,
    valid_before: int,
    nonce: bytes,
) -> tuple[int, bytes, bytes]:
    """An EIP-3009 ReceiveWithAuthorization signed by `payer`, as (v, r, s)."""
    message = {
        "types": {
            "ReceiveWithAuthorization": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "validAfter", "type": "uint256"},
                {"name": "validBefore", "type": "uint256"},
                {"name": "nonce", "type": "bytes32"},
            ],
        },
        "primaryType": "ReceiveWithAuthorization",
        "domain": token_domain(token),
        "message": {
            "from": payer.address,
            "to": to,
            "value": value,
            "validAfter": valid_after,
            "validBefore": valid_before,
            "nonce": nonce,
        },
    }
    signed = Account.sign_typed_data(payer.key, full_message=message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def gasless_payer(chain: Chain, amount: int) -> LocalAccount:
    """A fresh payer holding `amount` USDC and no ETH: it never sends a transaction itself."""
    payer = new_key()
    chain.send(chain.usdc.functions.mint(payer.address, amount), chain.owner)
    assert chain.w3.eth.get_balance(payer.address) == 0
    return payer


def permit_deposit(
    chain: Chain, payer: LocalAccount, amount: int, deadline: int, vrs: tuple[int, bytes, bytes]
) -> Any:
    """The hub call a relayer sends to deposit `amount` from `payer` with its permit signature."""
    return chain.hub.functions.depositWithPermit(payer.address, chain.usdc.address, amount, deadline, *vrs)


def token_balance(token: Contract, holder: str) -> int:
    return int(token.functions.balanceOf(holder).call())


# ---------------------------------------------------------------- plain deposits


def test_deposit_credits_the_caller_and_moves_its_tokens(chain: Chain) -> None:
    payer = chain.accounts[1]
    wallet_before = token_balance(chain.usdc, payer.address)
    hub_before = token_balance(chain.usdc, chain.hub.address)

    receipt = chain.deposit(payer, 2_500_000)

    assert chain.events(receipt, "Deposited") == [
        {"payer": payer.address, "token": chain.usdc.address, "from": payer.address, "amount": 2_500_000}
    ]
    assert chain.balance(payer.address) == 2_500_000
    assert token_balance(chain.usdc, payer.address) == wallet_before - 2_500_000
    assert token_balance(chain.usdc, chain.hub.address) == hub_before + 2_500_000


def test_deposit_for_credits_another_payer_with_the_callers_tokens(chain: Chain) -> None:
    sponsor, payer = chain.accounts[1], chain.accounts[2]
    sponsor_before = token_balance(chain.usdc, sponsor.address)
    payer_before = token_balance(chain.usdc, payer.address)

    chain.send(chain.usdc.functions.approve(chain.hub.address, 700_000), sponsor)
    receipt = chain.send(chain.hub.functions.depositFor(payer.address, chain.usdc.address, 700_000), sponsor)

    assert chain.events(receipt, "Deposited") == [
        {"payer": payer.address, "token": chain.usdc.address, "from": sponsor.address, "amount": 700_000}
    ]
    assert chain.balance(payer.address) == 700_000
    assert chain.balance(sponsor.address) == 0
    assert token_balance(chain.usdc, sponsor.address) == sponsor_before - 700_000
    assert token_balance(chain.usdc, payer.address) == payer_before


def test_a_top_up_adds_to_the_balance(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, 1_000_000)
    chain.deposit(payer, 250_000)
    assert chain.balance(payer.address) == 1_250_000


def test_a_zero_deposit_reverts(chain: Chain) -> None:
    payer = chain.accounts[1]
    with reverts_with(chain.hub, "ZeroAmount"):
        chain.deposit(payer, 0)


def test_a_token_never_listed_is_refused(chain: Chain) -> None:
    payer = chain.accounts[1]
    other = chain.deploy("TestStablecoin")
    chain.send(other.functions.mint(payer.address, 1_000_000), payer)
    with reverts_with(chain.hub, "TokenNotAllowed", other.address):
        chain.deposit(payer, 1_000_000, token=other)


def test_a_token_disallowed_by_the_owner_is_refused(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.allow_token(chain.usdc, False)
    with reverts_with(chain.hub, "TokenNotAllowed", chain.usdc.address):
        chain.deposit(payer, 1_000_000)
    with reverts_with(chain.hub, "TokenNotAllowed", chain.usdc.address):
        chain.send(chain.hub.functions.depositFor(chain.accounts[2].address, chain.usdc.address, 1), payer)
    assert chain.balance(payer.address) == 0


def test_an_amount_beyond_128_bits_is_refused(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.send(chain.usdc.functions.mint(payer.address, 2**128), payer)
    with reverts_with(chain.hub, "AmountTooLarge", 2**128):
        chain.deposit(payer, 2**128)
    assert chain.balance(payer.address) == 0


def test_a_top_up_past_128_bits_is_refused(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.send(chain.usdc.functions.mint(payer.address, 2**128), payer)
    chain.deposit(payer, 2**128 - 1)
    with reverts_with(chain.hub, "AmountTooLarge", 2**128 - 1 + 1_000_000):
        chain.deposit(payer, 1_000_000)
    assert chain.balance(payer.address) == 2**128 - 1


# ----------------------------------------------------------------- EIP-2612 permit


def test_a_relayed_permit_deposits_from_a_payer_without_eth(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    relayer = chain.owner
    deadline = chain.timestamp() + DEADLINE_MARGIN
    signature = sign_permit(chain.usdc, payer, chain.hub.address, 3_000_000, deadline)

    receipt = chain.send(permit_deposit(chain, payer, 3_000_000, deadline, signature), relayer)

    assert chain.events(receipt, "Deposited") == [
        {"payer": payer.address, "token": chain.usdc.address, "from": payer.address, "amount": 3_000_000}
    ]
    assert chain.balance(payer.address) == 3_000_000
    assert chain.balance(relayer.address) == 0
    assert token_balance(chain.usdc, payer.address) == 2_000_000
    assert chain.usdc.functions.allowance(payer.address, chain.hub.address).call() == 0


def test_a_front_run_permit_does_not_block_the_deposit(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    deadline = chain.timestamp() + DEADLINE_MARGIN
    signature = sign_permit(chain.usdc, payer, chain.hub.address, 3_000_000, deadline)
    front_runner = chain.accounts[5]
    chain.send(
        chain.usdc.functions.permit(payer.address, chain.hub.address, 3_000_000, deadline, *signature),
        front_runner,
    )

    receipt = chain.send(permit_deposit(chain, payer, 3_000_000, deadline, signature), chain.owner)

    [event] = chain.events(receipt, "Deposited")
    assert (event["payer"], event["from"], event["amount"]) == (payer.address, payer.address, 3_000_000)
    assert chain.balance(payer.address) == 3_000_000
    assert chain.balance(front_runner.address) == 0


def test_the_payer_itself_deposits_its_allowance_when_the_permit_fails(chain: Chain) -> None:
    payer = chain.accounts[5]
    chain.send(chain.usdc.functions.approve(chain.hub.address, 2_000_000), payer)
    zero = bytes(32)
    call = chain.hub.functions.depositWithPermit(
        payer.address, chain.usdc.address, 2_000_000, 0, 0, zero, zero
    )

    receipt = chain.send(call, payer)

    assert chain.events(receipt, "Deposited") == [
        {"payer": payer.address, "token": chain.usdc.address, "from": payer.address, "amount": 2_000_000}
    ]


def test_a_failed_permit_relayed_by_a_stranger_never_falls_back_to_the_allowance(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    deadline = chain.timestamp() + DEADLINE_MARGIN
    signature = sign_permit(chain.usdc, payer, chain.hub.address, 3_000_000, deadline)
    stranger = chain.accounts[5]
    chain.send(
        chain.usdc.functions.permit(payer.address, chain.hub.address, 3_000_000, deadline, *signature),
        stranger,
    )

    with reverts_with(chain.hub, "PermitFailed", 0, 3_000_000):
        chain.send(permit_deposit(chain, payer, 3_000_000, deadline, signature), stranger)
    assert chain.balance(payer.address) == 0
    assert token_balance(chain.usdc, payer.address) == 5_000_000


def test_a_bad_permit_without_allowance_reverts(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    deadline = chain.timestamp() + DEADLINE_MARGIN
    # Signed for 1 USDC, relayed for 3: the permit fails and no allowance covers the deposit.
    signature = sign_permit(chain.usdc, payer, chain.hub.address, 1_000_000, deadline)
    with reverts_with(chain.hub, "PermitFailed", 0, 3_000_000):
        chain.send(permit_deposit(chain, payer, 3_000_000, deadline, signature), chain.owner)
    assert chain.balance(payer.address) == 0
    assert token_balance(chain.usdc, payer.address) == 5_000_000


def test_an_expired_permit_without_allowance_reverts(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    deadline = chain.timestamp() + 10
    signature = sign_permit(chain.usdc, payer, chain.hub.address, 1_000_000, deadline)
    chain.increase_time(60)
    with reverts_with(chain.hub, "PermitFailed", 0, 1_000_000):
        chain.send(permit_deposit(chain, payer, 1_000_000, deadline, signature), chain.owner)


# --------------------------------------------------------- EIP-3009 authorization


def receive_authorization(chain: Chain, payer: LocalAccount, amount: int) -> tuple[Any, ...]:
    """The arguments of depositWithAuthorization for a fresh authorization signed by `payer`."""
    valid_after, valid_before, nonce = 0, chain.timestamp() + DEADLINE_MARGIN, os.urandom(32)
    v, r, s = sign_receive_authorization(
        chain.usdc, payer, chain.hub.address, amount, valid_after, valid_before, nonce
    )
    return (payer.address, chain.usdc.address, amount, valid_after, valid_before, nonce, v, r, s)


def test_a_relayed_receive_authorization_deposits(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    args = receive_authorization(chain, payer, 4_000_000)

    receipt = chain.send(chain.hub.functions.depositWithAuthorization(*args), chain.owner)

    assert chain.events(receipt, "Deposited") == [
        {"payer": payer.address, "token": chain.usdc.address, "from": payer.address, "amount": 4_000_000}
    ]
    assert chain.balance(payer.address) == 4_000_000
    assert token_balance(chain.usdc, payer.address) == 1_000_000
    assert chain.usdc.functions.authorizationState(payer.address, args[5]).call() is True


def test_a_receive_authorization_cannot_be_replayed(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    args = receive_authorization(chain, payer, 2_000_000)
    chain.send(chain.hub.functions.depositWithAuthorization(*args), chain.owner)

    with reverts_with(chain.usdc, "AuthorizationUsedOrCanceled"):
        chain.send(chain.hub.functions.depositWithAuthorization(*args), chain.accounts[3])
    assert chain.balance(payer.address) == 2_000_000
    assert token_balance(chain.usdc, payer.address) == 3_000_000


def test_a_front_runner_cannot_execute_the_receive_authorization(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    payer_address, _, amount, valid_after, valid_before, nonce, v, r, s = receive_authorization(
        chain, payer, 2_000_000
    )
    front_runner = chain.accounts[5]
    with reverts_with(chain.usdc, "CallerMustBePayee"):
        chain.send(
            chain.usdc.functions.receiveWithAuthorization(
                payer_address, chain.hub.address, amount, valid_after, valid_before, nonce, v, r, s
            ),
            front_runner,
        )
    # The authorization is still unused, so the relayed deposit goes through.
    chain.send(
        chain.hub.functions.depositWithAuthorization(
            payer_address, chain.usdc.address, amount, valid_after, valid_before, nonce, v, r, s
        ),
        chain.owner,
    )
    assert chain.balance(payer.address) == 2_000_000


# ---------------------------------------------------------------- batched EIP-3009 deposits


def authorization(
    chain: Chain, payer: LocalAccount, amount: int, token: Contract | None = None, **overrides: Any
) -> tuple[Any, ...]:
    """One `Authorization` struct of depositWithAuthorizations, signed by `payer`."""
    fields: dict[str, Any] = {
        "valid_after": 0,
        "valid_before": chain.timestamp() + DEADLINE_MARGIN,
        "nonce": os.urandom(32),
        "value": amount,
    }
    fields.update(overrides)
    v, r, s = sign_receive_authorization(
        token or chain.usdc,
        payer,
        chain.hub.address,
        fields["value"],
        fields["valid_after"],
        fields["valid_before"],
        fields["nonce"],
    )
    return (payer.address, amount, fields["valid_after"], fields["valid_before"], fields["nonce"], v, r, s)


def test_a_batch_of_receive_authorizations_deposits_for_every_payer(chain: Chain) -> None:
    payers = [gasless_payer(chain, 3_000_000) for _ in range(3)]
    auths = [authorization(chain, payer, 1_000_000 * (i + 1)) for i, payer in enumerate(payers)]

    receipt = chain.send(
        chain.hub.functions.depositWithAuthorizations(chain.usdc.address, auths), chain.owner
    )

    assert chain.events(receipt, "Deposited") == [
        {"payer": p.address, "token": chain.usdc.address, "from": p.address, "amount": 1_000_000 * (i + 1)}
        for i, p in enumerate(payers)
    ]
    assert chain.events(receipt, "DepositFailed") == []
    assert [chain.balance(p.address) for p in payers] == [1_000_000, 2_000_000, 3_000_000]


def test_a_failing_authorization_in_a_batch_is_reported_and_the_others_deposit(chain: Chain) -> None:
    first, broke, forged, last = (gasless_payer(chain, 2_000_000) for _ in range(4))
    held_before = token_balance(chain.usdc, chain.hub.address)
    auths = [
        authorization(chain, first, 1_000_000),
        authorization(chain, broke, 5_000_000),  # more than it holds
        authorization(chain, forged, 1_000_000, value=1),  # signed for another amount
        authorization(chain, last, 2_000_000),
    ]
    zero = authorization(chain, last, 0)

    receipt = chain.send(
        chain.hub.functions.depositWithAuthorizations(chain.usdc.address, [*auths, zero]), chain.owner
    )

    token = chain.usdc.address
    assert chain.events(receipt, "DepositFailed") == [
        {"payer": broke.address, "token": token, "nonce": auths[1][4]},
        {"payer": forged.address, "token": token, "nonce": auths[2][4]},
        {"payer": last.address, "token": token, "nonce": zero[4]},
    ]
    assert [e["payer"] for e in chain.events(receipt, "Deposited")] == [first.address, last.address]
    assert [chain.balance(p.address) for p in (first, broke, forged, last)] == [1_000_000, 0, 0, 2_000_000]
    assert token_balance(chain.usdc, chain.hub.address) == held_before + 3_000_000


def test_a_replayed_authorization_in_a_batch_fails_alone(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    auth = authorization(chain, payer, 1_000_000)
    receipt = chain.send(
        chain.hub.functions.depositWithAuthorizations(chain.usdc.address, [auth, auth]), chain.owner
    )
    assert chain.events(receipt, "DepositFailed") == [
        {"payer": payer.address, "token": chain.usdc.address, "nonce": auth[4]}
    ]
    assert chain.balance(payer.address) == 1_000_000


def test_a_batch_in_a_token_not_allowed_reverts(chain: Chain) -> None:
    payer = gasless_payer(chain, 5_000_000)
    auth = authorization(chain, payer, 1_000_000)
    chain.allow_token(chain.usdc, False)
    with reverts_with(chain.hub, "TokenNotAllowed", chain.usdc.address):
        chain.send(chain.hub.functions.depositWithAuthorizations(chain.usdc.address, [auth]), chain.owner)


# ---------------------------------------------------------------- fee on transfer


def test_a_fee_on_transfer_deposit_is_refused(chain: Chain) -> None:
    payer = chain.accounts[1]
    token = chain.deploy("FeeOnTransferToken")
    chain.allow_token(token)
    chain.send(token.functions.mint(payer.address, 1_000_000), payer)

    with reverts_with(chain.hub, "TransferAmountMismatch", 1_000_000, 990_000):
        chain.deposit(payer, 1_000_000, token=token)
    assert chain.balance(payer.address, token) == 0
    assert token_balance(token, payer.address) == 1_000_000


def test_a_batch_in_a_fee_on_transfer_token_reverts_as_a_whole(chain: Chain) -> None:
    token = chain.deploy("FeeOnTransferToken")
    chain.allow_token(token)
    payers = [new_key() for _ in range(2)]
    for payer in payers:
        chain.send(token.functions.mint(payer.address, 2_000_000), chain.owner)
    auths = [authorization(chain, payer, 1_000_000 * (i + 1), token=token) for i, payer in enumerate(payers)]

    with reverts_with(chain.hub, "TransferAmountMismatch", 3_000_000, 2_970_000):
        chain.send(chain.hub.functions.depositWithAuthorizations(token.address, auths), chain.owner)
    assert [chain.balance(payer.address, token) for payer in payers] == [0, 0]

"""Claims: replay and malleability refused, bad rows skipped with their reason, fees, earnings, a property."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.contract import Contract
from web3.types import TxReceipt

from app.core.eip712 import Domain
from app.core.types import to_address
from tests.factories import (
    Chain,
    claim_row,
    new_key,
    reverts_with,
    skip_reason,
    to_compact,
    to_high_s,
)

ZERO_ADDRESS = "0x" + "00" * 20
DEPOSIT = 10_000_000


# ---------------------------------------------------------------- local helpers


def reasons(chain: Chain, receipt: TxReceipt, source: Contract | None = None) -> list[int]:
    """The reasons of every ClaimSkipped event in the receipt, in order."""
    return [event["reason"] for event in chain.events(receipt, "ClaimSkipped", source)]


def channel_state(
    chain: Chain, payer: str, payee: str, token: Contract | None = None
) -> tuple[int, int, int]:
    """(payer's balance, payee's earnings, channel's claimed) as the hub reports them."""
    return chain.balance(payer, token), chain.earnings(payee, token), chain.claimed(payer, payee, token)


def hub_state(hub: Contract, payer: str, payee: str, token: str) -> tuple[int, int, int]:
    """channel_state for any hub (e.g. a second deployment)."""
    channel = hub.functions.channelId(payer, payee, token).call()
    return (
        hub.functions.balanceOf(payer, token).call(),
        hub.functions.earningsOf(payee, token).call(),
        hub.functions.claimed(channel).call(),
    )


def token_balance(token: Contract, holder: str) -> int:
    return int(token.functions.balanceOf(holder).call())


def new_token(chain: Chain, payer: LocalAccount, amount: int = DEPOSIT) -> Contract:
    """A second TestStablecoin, allow-listed on the hub, with `amount` deposited by `payer`."""
    token = chain.deploy("TestStablecoin")
    chain.send(token.functions.mint(payer.address, amount), chain.owner)
    chain.allow_token(token)
    chain.deposit(payer, amount, token)
    return token


def skipped_event(row: tuple[Any, ...], reason: str) -> dict[str, Any]:
    payer, payee, token, cumulative_amount = row[:4]
    return {
        "payer": payer,
        "payee": payee,
        "token": token,
        "cumulativeAmount": cumulative_amount,
        "reason": skip_reason(reason),
    }


def assert_skipped(chain: Chain, row: tuple[Any, ...], reason: str, source: Contract | None = None) -> None:
    """Submits one row and checks it was skipped for `reason` and that nothing was claimed."""
    receipt = chain.send((source or chain.hub).functions.claim([row]), chain.owner)
    assert chain.events(receipt, "Claimed", source) == []
    assert chain.events(receipt, "ClaimSkipped", source) == [skipped_event(row, reason)]


# ---------------------------------------------------------------- replay


def test_a_voucher_signed_for_another_chain_is_refused(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    voucher = chain.voucher(payer, payee.address, 1_000_000)
    other_chain = Domain(chain_id=chain.w3.eth.chain_id + 1, hub=to_address(chain.hub.address))
    row = claim_row(voucher, chain.sign_voucher(payer, voucher, other_chain))
    before = channel_state(chain, payer.address, payee.address)

    assert_skipped(chain, row, "BadSignature")

    assert channel_state(chain, payer.address, payee.address) == before == (DEPOSIT, 0, 0)


def test_a_voucher_signed_for_another_hub_is_refused(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    other_hub = chain.deploy("MicropaymentHub", chain.owner.address, 3600)
    chain.send(other_hub.functions.setTokenAllowed(chain.usdc.address, True), chain.owner)
    chain.send(chain.usdc.functions.approve(other_hub.address, DEPOSIT), payer)
    chain.send(other_hub.functions.deposit(chain.usdc.address, DEPOSIT), payer)
    row = chain.signed_row(payer, payee.address, 1_000_000)  # signed for chain.hub

    assert_skipped(chain, row, "BadSignature", source=other_hub)

    assert hub_state(other_hub, payer.address, payee.address, chain.usdc.address) == (DEPOSIT, 0, 0)
    assert token_balance(chain.usdc, other_hub.address) == DEPOSIT


def test_a_voucher_submitted_with_another_payee_is_refused(chain: Chain) -> None:
    payer, payee, thief = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    chain.deposit(payer, DEPOSIT)
    payer_, _, token, amount, purchase, signature = chain.signed_row(payer, payee.address, 1_000_000)
    row = (payer_, thief.address, token, amount, purchase, signature)

    assert_skipped(chain, row, "BadSignature")

    assert channel_state(chain, payer.address, thief.address) == (DEPOSIT, 0, 0)
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT, 0, 0)


def test_a_voucher_submitted_with_another_token_is_refused(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    other = new_token(chain, payer)
    payer_, payee_, _, amount, purchase, signature = chain.signed_row(payer, payee.address, 1_000_000)
    row = (payer_, payee_, other.address, amount, purchase, signature)

    assert_skipped(chain, row, "BadSignature")

    assert channel_state(chain, payer.address, payee.address, other) == (DEPOSIT, 0, 0)
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT, 0, 0)


# ---------------------------------------------------------------- malleability


def test_other_forms_of_a_claimed_signature_gain_nothing(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    voucher = chain.voucher(payer, payee.address, 1_000_000)
    signature = chain.sign_voucher(payer, voucher)
    [claimed] = chain.events(chain.claim([claim_row(voucher, signature)]), "Claimed")
    assert claimed["amount"] == 1_000_000
    after_claim = channel_state(chain, payer.address, payee.address)

    for twin in (to_compact(signature), to_high_s(signature)):
        assert_skipped(chain, claim_row(voucher, twin), "NothingDue")

    assert (
        channel_state(chain, payer.address, payee.address)
        == after_claim
        == (DEPOSIT - 1_000_000, 1_000_000, 1_000_000)
    )


def test_a_high_s_signature_is_refused(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    voucher = chain.voucher(payer, payee.address, 1_000_000)
    row = claim_row(voucher, to_high_s(chain.sign_voucher(payer, voucher)))

    assert_skipped(chain, row, "BadSignature")

    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT, 0, 0)


def test_a_compact_signature_is_accepted(chain: Chain) -> None:
    """Both y parities of the EIP-2098 form recover the payer."""
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    by_parity: dict[int, tuple[Any, ...]] = {}
    nonce = 0
    while len(by_parity) < 2:
        nonce += 1
        amount = 1_000_000 * (len(by_parity) + 1)
        voucher = chain.voucher(payer, payee.address, amount, purchase=keccak(text=f"purchase-{nonce}"))
        signature = chain.sign_voucher(payer, voucher)
        by_parity.setdefault(signature[64], claim_row(voucher, to_compact(signature)))
    rows = sorted(by_parity.values(), key=lambda row: row[3])

    receipt = chain.claim(rows)

    assert [(e["signer"], e["amount"], e["claimed"]) for e in chain.events(receipt, "Claimed")] == [
        (payer.address, 1_000_000, 1_000_000),
        (payer.address, 1_000_000, 2_000_000),
    ]
    assert reasons(chain, receipt) == []
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT - 2_000_000, 2_000_000, 2_000_000)


# ---------------------------------------------------------------- stale, partial, top-up


def test_a_stale_or_equal_voucher_is_a_noop(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    stale = chain.signed_row(payer, payee.address, 400_000)
    latest = chain.signed_row(payer, payee.address, 1_000_000)
    chain.claim([latest])
    after_claim = channel_state(chain, payer.address, payee.address)

    assert_skipped(chain, latest, "NothingDue")
    assert_skipped(chain, stale, "NothingDue")

    assert (
        channel_state(chain, payer.address, payee.address)
        == after_claim
        == (DEPOSIT - 1_000_000, 1_000_000, 1_000_000)
    )


def test_a_voucher_above_the_balance_pays_what_is_there_then_the_rest_after_a_top_up(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, 3_000_000)
    row = chain.signed_row(payer, payee.address, 5_000_000)

    [first] = chain.events(chain.claim([row]), "Claimed")
    assert (first["amount"], first["claimed"]) == (3_000_000, 3_000_000)
    assert channel_state(chain, payer.address, payee.address) == (0, 3_000_000, 3_000_000)

    chain.deposit(payer, 4_000_000)
    [second] = chain.events(chain.claim([row]), "Claimed")
    assert (second["amount"], second["claimed"]) == (2_000_000, 5_000_000)
    assert channel_state(chain, payer.address, payee.address) == (2_000_000, 5_000_000, 5_000_000)

    assert_skipped(chain, row, "NothingDue")
    assert channel_state(chain, payer.address, payee.address) == (2_000_000, 5_000_000, 5_000_000)


# ---------------------------------------------------------------- bad rows in a batch


def test_bad_rows_are_skipped_with_their_reason_and_the_good_row_applies(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    stranger, spent_key, expiring_key = new_key(), new_key(), new_key()

    chain.authorize_signer(payer, spent_key.address, allowance=100_000, nonce=1)
    spent_payee = new_key().address
    first = chain.voucher(payer, spent_payee, 100_000)
    chain.claim([claim_row(first, chain.sign_voucher(spent_key, first))])

    chain.authorize_signer(
        payer, expiring_key.address, allowance=5_000_000, valid_until=chain.timestamp() + 60, nonce=2
    )
    chain.increase_time(120)

    bad_signature = chain.voucher(payer, payee.address, 500_000)
    exhausted = chain.voucher(payer, spent_payee, 150_000)
    expired = chain.voucher(payer, new_key().address, 200_000)
    unknown_token = to_address(new_key().address)
    rows = [
        claim_row(bad_signature, chain.sign_voucher(stranger, bad_signature)),
        claim_row(exhausted, chain.sign_voucher(spent_key, exhausted)),
        claim_row(expired, chain.sign_voucher(expiring_key, expired)),
        chain.signed_row(payer, payee.address, 300_000, token=unknown_token),
        chain.signed_row(payer, payee.address, 700_000),
    ]
    balance_before = chain.balance(payer.address)

    receipt = chain.claim(rows)

    assert reasons(chain, receipt) == [
        skip_reason("BadSignature"),
        skip_reason("SignerExhausted"),
        skip_reason("SignerExpired"),
        skip_reason("UnknownToken"),
    ]
    assert chain.events(receipt, "ClaimSkipped") == [
        skipped_event(rows[0], "BadSignature"),
        skipped_event(rows[1], "SignerExhausted"),
        skipped_event(rows[2], "SignerExpired"),
        skipped_event(rows[3], "UnknownToken"),
    ]
    assert chain.events(receipt, "Claimed") == [
        {
            "payer": payer.address,
            "payee": payee.address,
            "token": chain.usdc.address,
            "signer": payer.address,
            "amount": 700_000,
            "fee": 0,
            "claimed": 700_000,
        }
    ]
    assert chain.balance(payer.address) == balance_before - 700_000
    assert chain.earnings(payee.address) == 700_000
    assert chain.claimed(payer.address, spent_payee) == 100_000
    assert chain.claimed(payer.address, expired.payee) == 0


def test_a_zero_payee_is_skipped_as_invalid_payee(chain: Chain) -> None:
    payer = chain.accounts[1]
    chain.deposit(payer, DEPOSIT)
    assert_skipped(chain, chain.signed_row(payer, ZERO_ADDRESS, 1_000), "InvalidPayee")
    assert chain.balance(payer.address) == DEPOSIT


def test_an_amount_of_2_pow_128_is_skipped_as_too_large(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    assert_skipped(chain, chain.signed_row(payer, payee.address, 2**128), "AmountTooLarge")
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT, 0, 0)


def test_a_payer_with_no_balance_is_skipped_as_no_balance(chain: Chain) -> None:
    payer, payee = new_key(), chain.accounts[2]
    assert_skipped(chain, chain.signed_row(payer, payee.address, 1_000), "NoBalance")
    assert channel_state(chain, payer.address, payee.address) == (0, 0, 0)


# ---------------------------------------------------------------- who submits


def test_a_claim_is_permissionless(chain: Chain) -> None:
    payer, payee, bystander = chain.accounts[1], chain.accounts[2], chain.accounts[3]
    chain.deposit(payer, DEPOSIT)

    [by_payee] = chain.events(
        chain.claim([chain.signed_row(payer, payee.address, 400_000)], payee), "Claimed"
    )
    [by_bystander] = chain.events(
        chain.claim([chain.signed_row(payer, payee.address, 1_000_000)], bystander), "Claimed"
    )

    assert (by_payee["amount"], by_payee["signer"]) == (400_000, payer.address)
    assert (by_bystander["amount"], by_bystander["signer"]) == (600_000, payer.address)
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT - 1_000_000, 1_000_000, 1_000_000)
    assert chain.earnings(bystander.address) == 0


# ---------------------------------------------------------------- several rows of one channel


def test_increasing_rows_of_one_channel_pay_up_to_the_highest(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    rows = [chain.signed_row(payer, payee.address, amount) for amount in (100_000, 250_000, 600_000)]

    receipt = chain.claim(rows)

    assert [(e["amount"], e["claimed"]) for e in chain.events(receipt, "Claimed")] == [
        (100_000, 100_000),
        (150_000, 250_000),
        (350_000, 600_000),
    ]
    assert reasons(chain, receipt) == []
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT - 600_000, 600_000, 600_000)


def test_a_lower_row_after_a_higher_one_is_nothing_due(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    higher = chain.signed_row(payer, payee.address, 600_000)
    lower = chain.signed_row(payer, payee.address, 100_000)

    receipt = chain.claim([higher, lower])

    assert [(e["amount"], e["claimed"]) for e in chain.events(receipt, "Claimed")] == [(600_000, 600_000)]
    assert chain.events(receipt, "ClaimSkipped") == [skipped_event(lower, "NothingDue")]
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT - 600_000, 600_000, 600_000)


# ---------------------------------------------------------------- disallowed token


def test_a_disallowed_token_is_still_claimable_and_withdrawable(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    row = chain.signed_row(payer, payee.address, 1_000_000)
    chain.allow_token(chain.usdc, allowed=False)
    with reverts_with(chain.hub, "TokenNotAllowed", chain.usdc.address):
        chain.deposit(payer, 1_000)

    [claimed] = chain.events(chain.claim([row]), "Claimed")
    assert claimed["amount"] == 1_000_000
    assert channel_state(chain, payer.address, payee.address) == (DEPOSIT - 1_000_000, 1_000_000, 1_000_000)

    wallet_before = token_balance(chain.usdc, payer.address)
    chain.send(chain.hub.functions.requestWithdrawal(chain.usdc.address, DEPOSIT - 1_000_000), payer)
    chain.increase_time(3600)
    receipt = chain.send(chain.hub.functions.withdraw(chain.usdc.address), payer)

    assert chain.events(receipt, "Withdrawn") == [
        {"payer": payer.address, "token": chain.usdc.address, "amount": DEPOSIT - 1_000_000}
    ]
    assert token_balance(chain.usdc, payer.address) == wallet_before + DEPOSIT - 1_000_000
    assert chain.balance(payer.address) == 0


# ---------------------------------------------------------------- protocol fee


def test_the_protocol_fee_goes_to_its_recipient(chain: Chain) -> None:
    payer, payee, recipient = chain.accounts[1], chain.accounts[2], chain.accounts[5]
    chain.deposit(payer, DEPOSIT)
    receipt = chain.send(chain.hub.functions.setFee(100, recipient.address), chain.owner)
    assert chain.events(receipt, "FeeSet") == [{"feeBps": 100, "recipient": recipient.address}]

    [claimed] = chain.events(chain.claim([chain.signed_row(payer, payee.address, 1_000_000)]), "Claimed")

    assert (claimed["amount"], claimed["fee"], claimed["claimed"]) == (1_000_000, 10_000, 1_000_000)
    assert chain.earnings(payee.address) == 990_000
    assert chain.earnings(recipient.address) == 10_000
    assert chain.balance(payer.address) == DEPOSIT - 1_000_000

    wallet_before = token_balance(chain.usdc, recipient.address)
    chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, recipient.address), recipient)
    assert token_balance(chain.usdc, recipient.address) == wallet_before + 10_000
    assert chain.earnings(recipient.address) == 0


def test_a_fee_above_one_percent_is_refused(chain: Chain) -> None:
    with reverts_with(chain.hub, "FeeTooHigh", 101, 100):
        chain.send(chain.hub.functions.setFee(101, chain.accounts[5].address), chain.owner)


def test_only_the_owner_sets_the_fee(chain: Chain) -> None:
    intruder = chain.accounts[4]
    with reverts_with(chain.hub, "OwnableUnauthorizedAccount", intruder.address):
        chain.send(chain.hub.functions.setFee(50, intruder.address), intruder)
    assert chain.hub.functions.feeBps().call() == 0


def test_a_fee_without_a_recipient_is_refused(chain: Chain) -> None:
    with reverts_with(chain.hub, "InvalidRecipient"):
        chain.send(chain.hub.functions.setFee(50, ZERO_ADDRESS), chain.owner)


# ---------------------------------------------------------------- earnings


def test_a_payee_withdraws_its_earnings_to_another_address(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    cold_wallet = new_key().address
    chain.deposit(payer, DEPOSIT)
    chain.claim([chain.signed_row(payer, payee.address, 1_250_000)])

    receipt = chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, cold_wallet), payee)

    assert chain.events(receipt, "EarningsWithdrawn") == [
        {"payee": payee.address, "token": chain.usdc.address, "to": cold_wallet, "amount": 1_250_000}
    ]
    assert token_balance(chain.usdc, cold_wallet) == 1_250_000
    assert chain.earnings(payee.address) == 0
    with reverts_with(chain.hub, "ZeroAmount"):
        chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, cold_wallet), payee)


def test_earnings_cannot_be_sent_to_the_zero_address(chain: Chain) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    chain.deposit(payer, DEPOSIT)
    chain.claim([chain.signed_row(payer, payee.address, 1_000)])
    with reverts_with(chain.hub, "InvalidRecipient"):
        chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, ZERO_ADDRESS), payee)
    assert chain.earnings(payee.address) == 1_000


# ---------------------------------------------------------------- property


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    deposit=st.integers(min_value=1, max_value=5_000),
    amounts=st.lists(st.integers(min_value=1, max_value=8_000), min_size=1, max_size=6, unique=True),
    data=st.data(),
)
def test_payee_never_gets_more_than_the_highest_voucher_or_the_deposit(
    chain: Chain, deposit: int, amounts: list[int], data: st.DataObject
) -> None:
    payer, payee = chain.accounts[1], chain.accounts[2]
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        chain.deposit(payer, deposit)
        rows = [chain.signed_row(payer, payee.address, amount) for amount in sorted(amounts)]
        order = data.draw(st.permutations(rows), label="order")
        cuts = data.draw(st.lists(st.booleans(), min_size=len(order), max_size=len(order)), label="cuts")
        batches: list[list[tuple[Any, ...]]] = [[]]
        for row, cut in zip(order, cuts, strict=True):
            batches[-1].append(row)
            if cut:
                batches.append([])

        claimed = 0
        for batch in (b for b in batches if b):
            chain.claim(batch)
            now = chain.claimed(payer.address, payee.address)
            assert now >= claimed
            claimed = now
            earned = chain.earnings(payee.address)
            assert earned == claimed <= min(max(amounts), deposit)
            assert chain.balance(payer.address) == deposit - claimed

        assert claimed == min(max(amounts), deposit)
    finally:
        chain.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]

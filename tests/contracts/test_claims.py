"""Claims: who may send them, every skip reason with its exact event, domination of lanes, all-or-nothing
blocks, earnings written once per payee, the fee, signatures, and malformed data."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from app.core.claims import encode_claim
from app.core.eip712 import MAX_LANE_ENTRIES, Entry, entries_hash
from tests.contracts.lanes import (
    acknowledge,
    claimed,
    claimed_event,
    entries,
    make_voucher,
    raw_block,
    raw_claim,
    send_raw,
    signed_block,
    skipped,
    skipped_event,
)
from tests.factories import Chain, new_key, reverts_with, sign, to_compact, to_high_s

DEPOSIT = 10_000_000


def funded_payer(chain: Chain, index: int = 1, amount: int = DEPOSIT) -> LocalAccount:
    payer = chain.accounts[index]
    chain.deposit(payer, amount)
    return payer


def payees(count: int) -> list[str]:
    """Fresh payee addresses in ascending order."""
    return sorted((new_key().address for _ in range(count)), key=lambda a: int(a, 16))


# ---------------------------------------------------------------- who sends


def test_the_operator_claims_a_voucher_and_the_payees_earn(chain: Chain) -> None:
    payer = funded_payer(chain)
    shop, blog = payees(2)
    voucher = make_voucher(chain, payer.address, {shop: 300, blog: 200})

    receipt = chain.claim([signed_block(chain, voucher, payer)])

    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 500)]
    assert skipped(chain, receipt) == []
    assert chain.events(receipt, "Earned") == [
        {"payee": shop, "token": chain.usdc.address, "amount": 300, "fee": 0},
        {"payee": blog, "token": chain.usdc.address, "amount": 200, "fee": 0},
    ]
    assert chain.balance(payer.address) == DEPOSIT - 500
    assert (chain.earnings(shop), chain.earnings(blog)) == (300, 200)
    assert chain.commitment(payer.address) == entries_hash(voucher.entries)


def test_a_payee_claims_itself_with_the_operators_acknowledgement(chain: Chain) -> None:
    payer, payee = funded_payer(chain), chain.accounts[5]
    voucher = make_voucher(chain, payer.address, {payee.address: 700})
    block = signed_block(chain, voucher, payer, acknowledgement=acknowledge(chain, voucher))

    receipt = chain.claim([block], sender=payee)

    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 700)]
    assert chain.earnings(payee.address) == 700


def test_a_self_claim_without_acknowledgement_is_skipped(chain: Chain) -> None:
    payer, payee = funded_payer(chain), chain.accounts[5]
    voucher = make_voucher(chain, payer.address, {payee.address: 700})

    receipt = chain.claim([signed_block(chain, voucher, payer)], sender=payee)

    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]
    assert chain.events(receipt, "Earned") == []
    assert chain.balance(payer.address) == DEPOSIT
    assert chain.commitment(payer.address) == bytes(32)


def test_an_acknowledgement_signed_by_someone_else_than_the_operator_is_refused(chain: Chain) -> None:
    payer, payee = funded_payer(chain), chain.accounts[5]
    voucher = make_voucher(chain, payer.address, {payee.address: 700})
    forged = acknowledge(chain, voucher, operator=payee)
    receipt = chain.claim([signed_block(chain, voucher, payer, acknowledgement=forged)], sender=payee)
    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]


def test_an_acknowledgement_by_a_previous_operator_no_longer_counts(chain: Chain) -> None:
    payer, payee, new_operator = funded_payer(chain), chain.accounts[5], chain.accounts[6]
    voucher = make_voucher(chain, payer.address, {payee.address: 700})
    old_acknowledgement = acknowledge(chain, voucher)
    chain.send(chain.hub.functions.setOperator(new_operator.address), chain.owner)

    receipt = chain.claim([signed_block(chain, voucher, payer, acknowledgement=old_acknowledgement)], payee)
    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]

    # The old operator is now just anyone; the new one acknowledges and claims.
    receipt = chain.claim([signed_block(chain, voucher, payer)], sender=chain.owner)
    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]
    new_acknowledgement = acknowledge(chain, voucher, operator=new_operator)
    receipt = chain.claim([signed_block(chain, voucher, payer, acknowledgement=new_acknowledgement)], payee)
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 700)]


def test_the_operator_ignores_an_acknowledgement_it_carries(chain: Chain) -> None:
    payer, payee = funded_payer(chain), chain.accounts[5]
    voucher = make_voucher(chain, payer.address, {payee.address: 700})
    block = signed_block(chain, voucher, payer, acknowledgement=bytes(65))
    receipt = chain.claim([block])
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 700)]


# ---------------------------------------------------------------- skip reasons


def test_entries_that_break_the_rules_are_skipped_as_entries_invalid(chain: Chain) -> None:
    payer = funded_payer(chain)
    low, high = payees(2)
    table = [low, high, "0x" + "00" * 20]
    cases = {
        "no entries": [],
        "index outside the table": [(3, 0, 5)],
        "zero payee": [(2, 0, 5)],
        "descending payees": [(1, 0, 5), (0, 0, 5)],
        "a payee twice": [(0, 0, 5), (0, 0, 6)],
        "next of zero": [(0, 0, 0)],
        "previous above next": [(0, 6, 5)],
        "more than 32 entries": [(0, 0, 5)] * (MAX_LANE_ENTRIES + 1),
    }
    for lane, rows in enumerate(cases.values()):
        receipt = send_raw(chain, raw_claim(table, raw_block(payer.address, rows, lane=lane)))
        assert skipped(chain, receipt) == [
            {
                "payer": payer.address,
                "token": chain.usdc.address,
                "lane": lane,
                "entriesHash": bytes(32),
                "reason": 0,
            }
        ], list(cases)[lane]
    assert chain.balance(payer.address) == DEPOSIT


def test_a_previous_vector_that_is_not_the_lanes_commitment_is_skipped(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    first = make_voucher(chain, payer.address, {shop: 100})
    chain.claim([signed_block(chain, first, payer)])

    later = make_voucher(chain, payer.address, {shop: 250})
    receipt = chain.claim([signed_block(chain, later, payer, previous=entries({shop: 90}))])

    assert skipped(chain, receipt) == [skipped_event(later, "PreviousMismatch")]
    assert chain.earnings(shop) == 100


def test_a_competing_claim_of_a_later_voucher_wins_and_the_earlier_one_mismatches(chain: Chain) -> None:
    payer, payee = funded_payer(chain), chain.accounts[5]
    shop, blog = sorted([payee.address, new_key().address], key=lambda a: int(a, 16))
    earlier = make_voucher(chain, payer.address, {shop: 100})
    later = make_voucher(chain, payer.address, {shop: 100, blog: 40})

    # The payee self-claims the later voucher before the operator's claim of the earlier one lands.
    acknowledged = signed_block(chain, later, payer, acknowledgement=acknowledge(chain, later))
    chain.claim([acknowledged], sender=payee)
    receipt = chain.claim([signed_block(chain, earlier, payer)])
    assert skipped(chain, receipt) == [skipped_event(earlier, "PreviousMismatch")]

    # The operator re-reads the lane and sends the next voucher from there.
    next_voucher = make_voucher(chain, payer.address, {shop: 160, blog: 40})
    receipt = chain.claim([signed_block(chain, next_voucher, payer, previous=later.entries)])
    assert claimed(chain, receipt) == [claimed_event(next_voucher, payer.address, 60)]
    assert (chain.earnings(shop), chain.earnings(blog)) == (160, 40)
    assert chain.balance(payer.address) == DEPOSIT - 200


def test_a_voucher_claimed_again_is_nothing_due(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    chain.claim([signed_block(chain, voucher, payer)])

    receipt = chain.claim([signed_block(chain, voucher, payer, previous=voucher.entries)])

    assert skipped(chain, receipt) == [skipped_event(voucher, "NothingDue")]
    assert chain.earnings(shop) == 100


def test_a_voucher_signed_by_someone_else_is_a_bad_signature(chain: Chain) -> None:
    payer, stranger = funded_payer(chain), chain.accounts[7]
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    receipt = chain.claim([signed_block(chain, voucher, stranger)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")]


def test_a_block_above_the_balance_pays_nothing(chain: Chain) -> None:
    payer = funded_payer(chain, amount=1_000)
    shop, blog = payees(2)
    voucher = make_voucher(chain, payer.address, {shop: 600, blog: 401})

    receipt = chain.claim([signed_block(chain, voucher, payer)])

    assert skipped(chain, receipt) == [skipped_event(voucher, "InsufficientBalance")]
    assert (chain.earnings(shop), chain.earnings(blog), chain.balance(payer.address)) == (0, 0, 1_000)
    assert chain.commitment(payer.address) == bytes(32)

    exact = make_voucher(chain, payer.address, {shop: 600, blog: 400})
    receipt = chain.claim([signed_block(chain, exact, payer)])
    assert claimed(chain, receipt) == [claimed_event(exact, payer.address, 1_000)]
    assert chain.balance(payer.address) == 0


def test_the_first_reason_that_applies_is_reported(chain: Chain) -> None:
    payer = funded_payer(chain, amount=10)
    [shop] = payees(1)
    # Above the balance, signed by a stranger, not acknowledged, and nothing due against a wrong previous.
    voucher = make_voucher(chain, payer.address, {shop: 100})
    block = signed_block(chain, voucher, chain.accounts[7], previous=entries({shop: 100}))
    receipt = chain.claim([block], sender=chain.accounts[7])
    assert skipped(chain, receipt) == [skipped_event(voucher, "PreviousMismatch")]

    block = signed_block(chain, voucher, chain.accounts[7])
    receipt = chain.claim([block], sender=chain.accounts[7])
    assert skipped(chain, receipt) == [skipped_event(voucher, "NotAcknowledged")]

    receipt = chain.claim([block])
    assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")]

    receipt = chain.claim([signed_block(chain, voucher, payer)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "InsufficientBalance")]


def test_a_skipped_block_does_not_stop_the_others(chain: Chain) -> None:
    alice, bob = funded_payer(chain, 1), funded_payer(chain, 2)
    [shop] = payees(1)
    bad = make_voucher(chain, alice.address, {shop: 100})
    good = make_voucher(chain, bob.address, {shop: 300})

    receipt = chain.claim([signed_block(chain, bad, bob), signed_block(chain, good, bob)])

    assert skipped(chain, receipt) == [skipped_event(bad, "BadSignature")]
    assert claimed(chain, receipt) == [claimed_event(good, bob.address, 300)]
    assert chain.earnings(shop) == 300


# ---------------------------------------------------------------- lanes


def test_lanes_of_one_payer_are_independent(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    lane_one = make_voucher(chain, payer.address, {shop: 100}, lane=1)
    lane_two = make_voucher(chain, payer.address, {shop: 30}, lane=2**64 - 1)

    receipt = chain.claim([signed_block(chain, lane_one, payer), signed_block(chain, lane_two, payer)])

    assert claimed(chain, receipt) == [
        claimed_event(lane_one, payer.address, 100),
        claimed_event(lane_two, payer.address, 30),
    ]
    assert chain.events(receipt, "Earned") == [
        {"payee": shop, "token": chain.usdc.address, "amount": 130, "fee": 0}
    ]
    assert chain.commitment(payer.address, lane=1) == entries_hash(lane_one.entries)
    assert chain.commitment(payer.address, lane=2**64 - 1) == entries_hash(lane_two.entries)
    assert chain.commitment(payer.address, lane=0) == bytes(32)


def test_a_new_payee_joins_a_claimed_lane_in_order(chain: Chain) -> None:
    payer = funded_payer(chain)
    low, middle, high = payees(3)
    first = make_voucher(chain, payer.address, {low: 10, high: 20})
    chain.claim([signed_block(chain, first, payer)])

    second = make_voucher(chain, payer.address, {low: 10, middle: 5, high: 25})
    receipt = chain.claim([signed_block(chain, second, payer, previous=first.entries)])

    assert claimed(chain, receipt) == [claimed_event(second, payer.address, 10)]
    assert [(e["payee"], e["amount"]) for e in chain.events(receipt, "Earned")] == [(middle, 5), (high, 5)]


def test_dropping_a_payee_from_the_lane_mismatches(chain: Chain) -> None:
    payer = funded_payer(chain)
    low, high = payees(2)
    first = make_voucher(chain, payer.address, {low: 10, high: 20})
    chain.claim([signed_block(chain, first, payer)])

    dropped = make_voucher(chain, payer.address, {high: 50})
    receipt = chain.claim([signed_block(chain, dropped, payer, previous=entries({high: 20}))])
    assert skipped(chain, receipt) == [skipped_event(dropped, "PreviousMismatch")]


def test_a_lane_holds_thirty_two_payees(chain: Chain) -> None:
    payer = funded_payer(chain)
    voucher = make_voucher(chain, payer.address, dict.fromkeys(payees(MAX_LANE_ENTRIES), 1))
    receipt = chain.claim([signed_block(chain, voucher, payer)])
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, MAX_LANE_ENTRIES)]
    assert len(chain.events(receipt, "Earned")) == MAX_LANE_ENTRIES


# ---------------------------------------------------------------- earnings and fee


def test_each_payee_is_credited_once_per_claim_with_the_fee_taken_from_its_gross(chain: Chain) -> None:
    treasury = chain.accounts[9].address
    chain.send(chain.hub.functions.setFee(100, treasury), chain.owner)
    alice, bob = funded_payer(chain, 1), funded_payer(chain, 2)
    shop, blog = payees(2)
    from_alice = make_voucher(chain, alice.address, {shop: 1_000, blog: 99})
    from_bob = make_voucher(chain, bob.address, {shop: 2_050})

    receipt = chain.claim([signed_block(chain, from_alice, alice), signed_block(chain, from_bob, bob)])

    token = chain.usdc.address
    assert chain.events(receipt, "Earned") == [
        {"payee": shop, "token": token, "amount": 3_020, "fee": 30},  # 3,050 gross
        {"payee": blog, "token": token, "amount": 99, "fee": 0},  # 0.99 rounds down to 0
        {"payee": treasury, "token": token, "amount": 30, "fee": 0},
    ]
    assert (chain.earnings(shop), chain.earnings(blog), chain.earnings(treasury)) == (3_020, 99, 30)
    assert chain.balance(alice.address) + chain.balance(bob.address) == 2 * DEPOSIT - 3_149


def test_a_payee_withdraws_its_earnings(chain: Chain) -> None:
    payer, payee = funded_payer(chain), chain.accounts[5]
    chain.claim([signed_block(chain, make_voucher(chain, payer.address, {payee.address: 700}), payer)])
    before = chain.usdc.functions.balanceOf(payee.address).call()
    receipt = chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, payee.address), payee)
    assert chain.events(receipt, "EarningsWithdrawn") == [
        {"payee": payee.address, "token": chain.usdc.address, "to": payee.address, "amount": 700}
    ]
    assert chain.usdc.functions.balanceOf(payee.address).call() == before + 700
    assert chain.earnings(payee.address) == 0


# ---------------------------------------------------------------- signatures


def test_a_compact_eip2098_signature_is_accepted(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    block = signed_block(chain, voucher, payer)
    compact = type(block)(voucher=voucher, signature=to_compact(block.signature))
    receipt = chain.claim([compact])
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 100)]


def test_signatures_outside_the_rule_recover_nobody(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    signature = sign(payer.key, chain.domain, voucher)
    r_s, v = signature[:64], signature[64]
    variants = {
        "v = 0/1": r_s + bytes([v - 27]),
        "high s": to_high_s(signature),
        "66 bytes": signature + b"\x00",
        "empty": b"",
    }
    for name, bad in variants.items():
        block = type(signed_block(chain, voucher, payer))(voucher=voucher, signature=bad)
        receipt = chain.claim([block])
        assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")], name
    assert chain.balance(payer.address) == DEPOSIT


def test_a_payer_of_address_zero_is_never_signed_for(chain: Chain) -> None:
    [shop] = payees(1)
    data = raw_claim([shop], raw_block("0x" + "00" * 20, [(0, 0, 5)], signature=bytes(65)))
    receipt = send_raw(chain, data)
    [event] = skipped(chain, receipt)
    assert event["reason"] == 4  # BadSignature


# ---------------------------------------------------------------- reverts


def test_a_claim_in_a_token_never_listed_reverts(chain: Chain) -> None:
    payer = funded_payer(chain)
    unlisted = chain.deploy("TestStablecoin")
    voucher = make_voucher(chain, payer.address, {payees(1)[0]: 1}, token=unlisted)
    with reverts_with(chain.hub, "TokenNotAllowed", unlisted.address):
        chain.claim([signed_block(chain, voucher, payer)], token=unlisted)


def test_a_delisted_token_is_still_claimed(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    chain.allow_token(chain.usdc, False)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    receipt = chain.claim([signed_block(chain, voucher, payer)])
    assert claimed(chain, receipt) == [claimed_event(voucher, payer.address, 100)]


def test_malformed_claim_data_reverts_with_the_offset(chain: Chain) -> None:
    payer = funded_payer(chain)
    [shop] = payees(1)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    good = encode_claim([signed_block(chain, voucher, payer)])
    block_start = 21
    cases = {
        "empty": (b"", 0),
        "no payees": (b"\x00", 0),
        "payee table cut": (good[:15], 1),
        "header cut": (good[: block_start + 40], block_start),
        "signature cut": (good[: block_start + 63 + 30], block_start + 61),
        "entries cut": (good[:-1], block_start + 63 + 65),
        "entry count missing": (good[: block_start + 63 + 65], block_start + 63 + 65),
        "flags with bit 4": (good[: block_start + 60] + b"\x04" + good[block_start + 61 :], block_start + 60),
    }
    for name, (data, offset) in cases.items():
        with reverts_with(chain.hub, "MalformedClaim", offset):
            send_raw(chain, data)
        assert chain.balance(payer.address) == DEPOSIT, name


def test_a_truncated_grant_or_acknowledgement_reverts(chain: Chain) -> None:
    [shop] = payees(1)
    payer = chain.accounts[1].address
    header = 21
    grant_cut = raw_claim([shop], raw_block(payer, [], flags=1))  # flag 1, but no grant follows
    with reverts_with(chain.hub, "MalformedClaim", header + 63 + 65):
        send_raw(chain, grant_cut)
    acknowledgement_cut = raw_claim([shop], raw_block(payer, [], acknowledgement=bytes(65)))[:-3]
    with reverts_with(chain.hub, "MalformedClaim", header + 63 + 65):
        send_raw(chain, acknowledgement_cut)


def test_an_entry_hash_is_the_eip712_entry_hash(chain: Chain) -> None:
    vector = (Entry(chain.accounts[1].address, 5), Entry(chain.accounts[2].address, 7))
    as_tuples = [(e.payee, e.cumulative_amount) for e in vector]
    assert bytes(chain.hub.functions.entriesHash(as_tuples).call()) == entries_hash(vector)

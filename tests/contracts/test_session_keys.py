"""Session grants ride with claims: a key signs the payer's vouchers on one lane, in one token, up to a cap on
the vector's sum, until a time, until the payer's revocation takes effect."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount

from tests.conftest import WITHDRAW_DELAY
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


def setup(chain: Chain) -> tuple[LocalAccount, LocalAccount, str]:
    payer, key = chain.accounts[1], new_key()
    chain.deposit(payer, DEPOSIT)
    return payer, key, new_key().address


def test_a_key_signed_voucher_with_its_grant_is_claimed(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    grant = make_grant(chain, payer, key.address, max_total=1_000)
    voucher = make_voucher(chain, payer.address, {shop: 400})

    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])

    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 400)]
    assert chain.earnings(shop) == 400


def test_a_key_signed_voucher_without_a_grant_is_a_bad_signature(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    voucher = make_voucher(chain, payer.address, {shop: 400})
    receipt = chain.claim([signed_block(chain, voucher, key)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "BadSignature")]


def test_the_cap_bounds_the_vectors_sum_whoever_signed_before(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    blog = new_key().address
    # The wallet itself paid 700 on the lane; the key may extend it while the whole vector stays <= 1,000.
    by_wallet = make_voucher(chain, payer.address, {shop: 700})
    chain.claim([signed_block(chain, by_wallet, payer)])
    grant = make_grant(chain, payer, key.address, max_total=1_000)

    too_much = make_voucher(chain, payer.address, {shop: 700, blog: 301})
    receipt = chain.claim([signed_block(chain, too_much, key, previous=by_wallet.entries, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(too_much, "CapExceeded")]

    up_to_cap = make_voucher(chain, payer.address, {shop: 700, blog: 300})
    receipt = chain.claim([signed_block(chain, up_to_cap, key, previous=by_wallet.entries, grant=grant)])
    assert claimed(chain, receipt) == [claimed_event(up_to_cap, key.address, 300)]


def test_an_expired_grant_is_refused(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    grant = make_grant(chain, payer, key.address, max_total=1_000, valid_until=chain.timestamp() + 100)
    voucher = make_voucher(chain, payer.address, {shop: 400})
    chain.increase_time(101)

    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "SignerExpired")]


def test_a_revocation_takes_effect_after_the_withdrawal_delay(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    grant = make_grant(chain, payer, key.address, max_total=1_000)
    receipt = chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    [event] = chain.events(receipt, "SignerRevoked")
    assert event == {"payer": payer.address, "signer": key.address, "effectiveAt": event["effectiveAt"]}
    assert event["effectiveAt"] == chain.timestamp() + WITHDRAW_DELAY
    assert chain.hub.functions.revokedAt(payer.address, key.address).call() == event["effectiveAt"]

    # Within the delay, what the key signed is still claimed: the operator may have acknowledged it.
    first = make_voucher(chain, payer.address, {shop: 100})
    receipt = chain.claim([signed_block(chain, first, key, grant=grant)])
    assert claimed(chain, receipt) == [claimed_event(first, key.address, 100)]

    chain.increase_time(WITHDRAW_DELAY)
    second = make_voucher(chain, payer.address, {shop: 200})
    receipt = chain.claim([signed_block(chain, second, key, previous=first.entries, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(second, "SignerRevoked")]

    # The wallet itself still pays on the lane.
    receipt = chain.claim([signed_block(chain, second, payer, previous=first.entries)])
    assert claimed(chain, receipt) == [claimed_event(second, payer.address, 100)]


def test_revoking_again_never_postpones_the_revocation(chain: Chain) -> None:
    payer, key, _ = setup(chain)
    chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    first = chain.hub.functions.revokedAt(payer.address, key.address).call()
    chain.increase_time(600)

    receipt = chain.send(chain.hub.functions.revokeSigner(key.address), payer)

    assert chain.events(receipt, "SignerRevoked") == [
        {"payer": payer.address, "signer": key.address, "effectiveAt": first}
    ]
    assert chain.hub.functions.revokedAt(payer.address, key.address).call() == first


def test_a_revocation_by_another_payer_does_not_touch_this_payers_grant(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    chain.send(chain.hub.functions.revokeSigner(key.address), chain.accounts[2])
    chain.increase_time(WITHDRAW_DELAY)
    grant = make_grant(chain, payer, key.address, max_total=1_000)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])
    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 100)]


def test_a_grant_for_another_lane_token_or_payer_is_invalid(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    other_token = chain.deploy("TestStablecoin")
    grants = {
        "lane": make_grant(chain, payer, key.address, max_total=1_000, lane=1),
        "token": make_grant(chain, payer, key.address, max_total=1_000, token=other_token),
        "payer": make_grant(chain, chain.accounts[2], key.address, max_total=1_000),
        "forged": make_grant(chain, payer, key.address, max_total=1_000, signed_by=key),
    }
    voucher = make_voucher(chain, payer.address, {shop: 100})
    for name, grant in grants.items():
        receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])
        assert skipped(chain, receipt) == [skipped_event(voucher, "GrantInvalid")], name
    assert chain.balance(payer.address) == DEPOSIT


def test_a_voucher_signed_by_another_key_than_the_grants_is_invalid(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    grant = make_grant(chain, payer, key.address, max_total=1_000)
    voucher = make_voucher(chain, payer.address, {shop: 100})
    receipt = chain.claim([signed_block(chain, voucher, new_key(), grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "GrantInvalid")]


def test_grant_reasons_come_in_order_invalid_expired_revoked_cap(chain: Chain) -> None:
    payer, key, shop = setup(chain)
    chain.send(chain.hub.functions.revokeSigner(key.address), payer)
    grant = make_grant(chain, payer, key.address, max_total=10, valid_until=chain.timestamp() + 10)
    chain.increase_time(WITHDRAW_DELAY)
    voucher = make_voucher(chain, payer.address, {shop: 100})  # above the cap too

    receipt = chain.claim([signed_block(chain, voucher, key, grant=grant)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "SignerExpired")]

    fresh = make_grant(chain, payer, key.address, max_total=10)
    receipt = chain.claim([signed_block(chain, voucher, key, grant=fresh)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "SignerRevoked")]

    other_key = new_key()
    capped = make_grant(chain, payer, other_key.address, max_total=99)
    receipt = chain.claim([signed_block(chain, voucher, other_key, grant=capped)])
    assert skipped(chain, receipt) == [skipped_event(voucher, "CapExceeded")]

"""The ledger's two halves agree: whatever check_pay accepts on a lane, claim_outcome pays in full
when the lane's latest voucher is claimed before its deadlines, and nothing more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import ledger
from app.core.eip712 import Entry, PayerVoucher, SessionGrant
from app.core.errors import (
    CumulativeMismatch,
    InsufficientFunds,
    LaneFull,
    SignerCapExceeded,
    SignerNotAuthorized,
)
from app.core.types import Address

PAYER = Address("0x" + "11" * 20)
TOKEN = Address("0x" + "22" * 20)
KEY = Address("0x" + "33" * 20)
PAYEES = [Address(f"0x{i:040x}") for i in range(1, 40)]


def voucher(entries: tuple[Entry, ...], lane: int = 0) -> PayerVoucher:
    return PayerVoucher(PAYER, TOKEN, lane, entries, bytes(32))


def grant(max_total: int = 10**9, valid_until: int = 10_000, revoked_at: int | None = None) -> ledger.Grant:
    return ledger.Grant(SessionGrant(PAYER, KEY, TOKEN, 0, max_total, valid_until), b"", revoked_at)


def rich() -> ledger.Account:
    return ledger.Account(balance=10**12, pending_withdrawal=0, outstanding=0)


def test_raising_a_new_payee_inserts_it_in_address_order() -> None:
    entries = ledger.raised((Entry(PAYEES[0], 5), Entry(PAYEES[2], 7)), PAYEES[1], 3)
    assert entries == (Entry(PAYEES[0], 5), Entry(PAYEES[1], 3), Entry(PAYEES[2], 7))


def test_a_voucher_that_is_the_lane_plus_the_price_is_accepted() -> None:
    accepted = (Entry(PAYEES[0], 5),)
    ledger.check_pay(voucher((Entry(PAYEES[0], 8),)), PAYEES[0], 3, accepted, rich(), None, 0, 60)


def test_a_voucher_that_also_raises_another_payee_is_refused() -> None:
    accepted = (Entry(PAYEES[0], 5), Entry(PAYEES[1], 5))
    signed = voucher((Entry(PAYEES[0], 8), Entry(PAYEES[1], 6)))
    with pytest.raises(CumulativeMismatch):
        ledger.check_pay(signed, PAYEES[0], 3, accepted, rich(), None, 0, 60)


def test_a_price_above_the_headroom_is_refused() -> None:
    poor = ledger.Account(balance=10, pending_withdrawal=4, outstanding=4)
    with pytest.raises(InsufficientFunds):
        ledger.check_pay(voucher((Entry(PAYEES[0], 3),)), PAYEES[0], 3, (), poor, None, 0, 60)


def test_a_thirty_third_payee_does_not_fit_in_a_lane() -> None:
    full = tuple(Entry(p, 1) for p in PAYEES[:32])
    with pytest.raises(LaneFull):
        ledger.check_pay(voucher((*full, Entry(PAYEES[32], 1))), PAYEES[32], 1, full, rich(), None, 0, 60)


def test_a_key_cap_counts_the_whole_lane_including_what_the_wallet_signed() -> None:
    wallet_signed = (Entry(PAYEES[0], 50_000),)
    signed = voucher((Entry(PAYEES[0], 70_000),))
    with pytest.raises(SignerCapExceeded):
        ledger.check_pay(signed, PAYEES[0], 20_000, wallet_signed, rich(), grant(max_total=60_000), 0, 60)


def test_a_key_is_refused_once_its_expiry_is_within_the_settle_margin_of_chain_time() -> None:
    signed = voucher((Entry(PAYEES[0], 1),))
    ledger.check_pay(signed, PAYEES[0], 1, (), rich(), grant(valid_until=1_000), 939, 60)
    with pytest.raises(SignerNotAuthorized):
        ledger.check_pay(signed, PAYEES[0], 1, (), rich(), grant(valid_until=1_000), 941, 60)


def test_a_revoked_key_is_refused_before_its_revocation_takes_effect_on_chain() -> None:
    signed = voucher((Entry(PAYEES[0], 1),))
    with pytest.raises(SignerNotAuthorized):
        ledger.check_pay(signed, PAYEES[0], 1, (), rich(), grant(revoked_at=1_000), 950, 60)


def test_the_chain_skips_a_block_whose_previous_vector_is_not_the_lanes() -> None:
    block = ledger.BlockFacts(
        (Entry(PAYEES[0], 1),), voucher((Entry(PAYEES[0], 2),)), True, True, None, False
    )
    lane = ledger.ChainLane(claimed=(), balance=100, revoked_at=0, now=0)
    assert ledger.claim_outcome(block, lane) is ledger.SkipReason.PREVIOUS_MISMATCH


def test_the_chain_skips_a_voucher_of_a_revoked_authorized_key_as_signer_revoked() -> None:
    signed = voucher((Entry(PAYEES[0], 2),))
    lane = ledger.ChainLane(claimed=(), balance=100, revoked_at=0, now=0)
    revoked = ledger.BlockFacts((), signed, True, False, None, False, signer_revoked=True)
    assert ledger.claim_outcome(revoked, lane) is ledger.SkipReason.SIGNER_REVOKED
    unknown = ledger.BlockFacts((), signed, True, False, None, False)
    assert ledger.claim_outcome(unknown, lane) is ledger.SkipReason.BAD_SIGNATURE


def test_the_chain_skips_an_unacknowledged_block() -> None:
    block = ledger.BlockFacts((), voucher((Entry(PAYEES[0], 2),)), False, True, None, False)
    lane = ledger.ChainLane(claimed=(), balance=100, revoked_at=0, now=0)
    assert ledger.claim_outcome(block, lane) is ledger.SkipReason.NOT_ACKNOWLEDGED


pays = st.lists(st.tuples(st.integers(0, 38), st.integers(1, 10_000), st.booleans()), min_size=1, max_size=60)


@given(pays=pays, settle_every=st.integers(1, 10), margin=st.integers(0, 100))
def test_whatever_the_server_accepts_on_a_lane_the_chain_pays_in_full(
    pays: list[tuple[int, int, bool]], settle_every: int, margin: int
) -> None:
    """Wallet- and key-signed vouchers mixed on one lane, claimed every few pays before the key's
    deadline: every accepted amount is paid once, and no claim is ever skipped."""
    account = ledger.Account(balance=300_000, pending_withdrawal=0, outstanding=0)
    key = grant(max_total=250_000, valid_until=10_000)
    accepted: tuple[Entry, ...] = ()
    claimed: tuple[Entry, ...] = ()
    balance, paid, acknowledged = 300_000, 0, 0
    for step, (payee_index, price, by_key) in enumerate(pays):
        payee = PAYEES[payee_index]
        signed = voucher(ledger.raised(accepted, payee, price))
        try:
            ledger.check_pay(signed, payee, price, accepted, account, key if by_key else None, 0, margin)
        except (InsufficientFunds, SignerCapExceeded, LaneFull):
            continue
        accepted = signed.entries
        acknowledged += price
        account = ledger.Account(account.balance, 0, account.outstanding + price)
        if step % settle_every == 0 or step == len(pays) - 1:
            block = ledger.BlockFacts(claimed, signed, True, not by_key, key.grant if by_key else None, True)
            outcome = ledger.claim_outcome(block, ledger.ChainLane(claimed, balance, 0, 10_000 - margin))
            assert outcome is None
            delta = ledger.total(accepted) - ledger.total(claimed)
            balance, paid, claimed = balance - delta, paid + delta, accepted
            account = ledger.Account(balance, 0, account.outstanding - delta)
    if claimed != accepted:
        # What is still open is claimable too.
        block = ledger.BlockFacts(claimed, voucher(accepted), True, True, None, False)
        assert ledger.claim_outcome(block, ledger.ChainLane(claimed, balance, 0, 0)) is None
        paid += ledger.total(accepted) - ledger.total(claimed)
    assert paid == acknowledged

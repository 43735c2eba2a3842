"""The acceptance rules, as plain tests and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import (
    CumulativeMismatch,
    InsufficientFunds,
    SignerAllowanceExceeded,
    SignerNotAuthorized,
)
from app.core.rules import Account, Channel, SessionKey, SignedVoucher, check_session_key, check_voucher
from app.core.types import to_address
from tests.factories import make_voucher

TOKEN = to_address("0x" + "33" * 20)
OTHER_TOKEN = to_address("0x" + "44" * 20)
KEY = to_address("0x" + "55" * 20)
NOW = 1_700_000_000
MARGIN = 600

amounts = st.integers(min_value=0, max_value=2**128 - 1)


def key(**overrides: object) -> SessionKey:
    fields: dict[str, object] = {
        "signer": KEY,
        "token": TOKEN,
        "allowance": 1_000,
        "outstanding": 0,
        "valid_until": NOW + 3600,
        "revoke_at": None,
    }
    fields.update(overrides)
    return SessionKey(**fields)  # type: ignore[arg-type]


def test_first_voucher_of_a_channel_equal_to_the_price_is_accepted() -> None:
    check_voucher(make_voucher(cumulative_amount=10), 10, Channel(0, 0, None), Account(100, 0, 0))


def test_voucher_that_skips_ahead_is_refused_with_the_latest_voucher() -> None:
    latest = SignedVoucher(make_voucher(cumulative_amount=10), b"\x01" * 65)
    with pytest.raises(CumulativeMismatch) as refused:
        check_voucher(make_voucher(cumulative_amount=30), 10, Channel(10, 0, latest), Account(100, 0, 10))
    assert refused.value.fields == {"expected": 20, "latest": latest}


def test_voucher_must_build_on_what_was_claimed_outside_the_server() -> None:
    check_voucher(make_voucher(cumulative_amount=60), 10, Channel(20, 50, None), Account(100, 0, 0))


def test_voucher_above_headroom_is_refused() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        check_voucher(make_voucher(cumulative_amount=10), 10, Channel(0, 0, None), Account(100, 50, 45))
    assert refused.value.fields == {"headroom": 5, "price": 10}


def test_pending_withdrawal_larger_than_balance_leaves_no_headroom() -> None:
    assert Account(balance=10, pending_withdrawal=20, outstanding=0).headroom == 0


def test_unknown_session_key_is_refused() -> None:
    with pytest.raises(SignerNotAuthorized):
        check_session_key(None, TOKEN, 10, NOW, MARGIN)


def test_session_key_for_another_token_is_refused() -> None:
    with pytest.raises(SignerNotAuthorized):
        check_session_key(key(token=OTHER_TOKEN), TOKEN, 10, NOW, MARGIN)


def test_session_key_expiring_before_it_can_be_settled_is_refused() -> None:
    with pytest.raises(SignerNotAuthorized):
        check_session_key(key(valid_until=NOW + MARGIN - 1), TOKEN, 10, NOW, MARGIN)
    check_session_key(key(valid_until=NOW + MARGIN), TOKEN, 10, NOW, MARGIN)


def test_session_key_being_revoked_is_refused_once_revocation_is_near() -> None:
    with pytest.raises(SignerNotAuthorized):
        check_session_key(key(revoke_at=NOW + MARGIN), TOKEN, 10, NOW, MARGIN)


def test_session_key_allowance_counts_what_is_accepted_but_unclaimed() -> None:
    check_session_key(key(allowance=100, outstanding=90), TOKEN, 10, NOW, MARGIN)
    with pytest.raises(SignerAllowanceExceeded) as refused:
        check_session_key(key(allowance=100, outstanding=95), TOKEN, 10, NOW, MARGIN)
    assert refused.value.fields == {"available": 5, "price": 10}


@given(accepted=amounts, claimed=amounts, price=st.integers(1, 2**64), cumulative=amounts)
def test_only_the_next_cumulative_amount_is_ever_accepted(
    accepted: int, claimed: int, price: int, cumulative: int
) -> None:
    account = Account(balance=2**200, pending_withdrawal=0, outstanding=0)
    try:
        check_voucher(
            make_voucher(cumulative_amount=cumulative), price, Channel(accepted, claimed, None), account
        )
    except CumulativeMismatch:
        assert cumulative != max(accepted, claimed) + price
    else:
        assert cumulative == max(accepted, claimed) + price


@given(balance=amounts, pending=amounts, outstanding=amounts, price=st.integers(1, 2**128))
def test_an_accepted_price_never_exceeds_the_headroom(
    balance: int, pending: int, outstanding: int, price: int
) -> None:
    account = Account(balance, pending, outstanding)
    try:
        check_voucher(make_voucher(cumulative_amount=price), price, Channel(0, 0, None), account)
    except InsufficientFunds:
        assert price > balance - pending - outstanding
    else:
        assert outstanding + price <= balance - pending

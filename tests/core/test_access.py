"""The access rule: what a payer's latest receipt for a resource gives it now."""

from __future__ import annotations

import pytest

from app.core.access import NO_ACCESS, Access, AccessModel, access, check_not_owned
from app.core.errors import AlreadyOwned


def test_per_use_gives_nothing_after_paying() -> None:
    assert access(AccessModel.PER_USE, 0, ("0xr", 100), 101) == NO_ACCESS


def test_a_purchase_is_owned_for_good() -> None:
    assert access(AccessModel.PURCHASE, 0, ("0xr", 100), 10**12) == Access(True, None, "0xr")


def test_a_time_pass_runs_for_its_seconds_and_then_ends() -> None:
    assert access(AccessModel.TIME_PASS, 3600, ("0xr", 100), 3699) == Access(True, 3700, "0xr")
    assert access(AccessModel.TIME_PASS, 3600, ("0xr", 100), 3700) == Access(False, 3700, "0xr")


def test_nothing_paid_gives_nothing() -> None:
    assert access(AccessModel.PURCHASE, 0, None, 1) == NO_ACCESS


def test_paying_for_what_is_owned_is_refused_with_the_receipt() -> None:
    with pytest.raises(AlreadyOwned) as refused:
        check_not_owned("article-1", Access(True, 3700, "0xr"))
    assert refused.value.code == "ALREADY_OWNED"
    assert refused.value.fields == {"resource": "article-1", "receipt": "0xr", "until": 3700}


def test_an_ended_pass_may_be_paid_again() -> None:
    check_not_owned("article-1", Access(False, 3700, "0xr"))

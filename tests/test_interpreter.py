"""Settings an imported library loosened are restored, and said so."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from app import interpreter


@pytest.fixture
def restore() -> Iterator[None]:
    limit, digits = sys.getrecursionlimit(), sys.get_int_max_str_digits()
    yield
    sys.setrecursionlimit(limit)
    sys.set_int_max_str_digits(digits)


@pytest.mark.usefixtures("restore")
def test_a_raised_recursion_limit_is_restored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    sys.setrecursionlimit(100_000)  # what importing py_ecc does
    assert interpreter.enforce() == ["recursion limit 100000 -> 1000"]
    assert sys.getrecursionlimit() == interpreter.RECURSION_LIMIT
    assert "an imported library changed a process-wide setting" in caplog.text


@pytest.mark.usefixtures("restore")
def test_an_unlimited_int_conversion_is_limited_again() -> None:
    sys.set_int_max_str_digits(0)
    interpreter.enforce()
    assert sys.get_int_max_str_digits() == interpreter.INT_MAX_STR_DIGITS


@pytest.mark.usefixtures("restore")
def test_stricter_settings_are_left_alone() -> None:
    sys.setrecursionlimit(500)
    sys.set_int_max_str_digits(1000)
    assert interpreter.enforce() == []
    assert sys.getrecursionlimit() == 500


def test_importing_the_server_loosens_the_recursion_limit_which_enforce_catches() -> None:
    import app.server  # noqa: F401 (imports py_ecc through eth-account)

    assert "py_ecc" in sys.modules

"""Custom scalars: what they accept, and that bad input is a clear validation error, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from app.api.scalars import parse_address, parse_amount, parse_bytes, parse_bytes32, serialize_amount
from app.core.errors import InvalidInput
from tests.api.conftest import ACCOUNT, Api

UINT256_MAX = 2**256 - 1


@pytest.mark.parametrize("text", ["0", "1", "1000000", str(UINT256_MAX)])
def test_an_amount_is_any_uint256_in_decimal_digits(text: str) -> None:
    assert serialize_amount(parse_amount(text)) == text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("-1", "non-negative"),
        ("+1", "without sign"),
        ("1.5", "decimal digits"),
        ("0x10", "decimal digits"),
        (" 1", "spaces"),
        ("01", "leading zeros"),
        ("", "decimal digits"),
        (str(UINT256_MAX + 1), "at most 2^256-1"),
        (1000, "JSON numbers lose precision"),
    ],
)
def test_an_amount_that_is_not_a_uint256_decimal_string_is_refused(value: Any, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem.replace("^", r"\^").replace("+", r"\+")):
        parse_amount(value)


def test_an_address_in_any_case_is_checksummed() -> None:
    checksummed = "0x52908400098527886E0F7030069857D2E4169EE7"
    assert parse_address(checksummed.lower()) == checksummed
    assert parse_address(checksummed.upper().replace("0X", "0x")) == checksummed


@pytest.mark.parametrize("value", ["0x123", "52908400098527886e0f7030069857d2e4169ee7", "0x" + "zz" * 20, 7])
def test_a_malformed_address_is_refused(value: Any) -> None:
    with pytest.raises(InvalidInput, match=r"0x followed by 40 hex digits|is a string"):
        parse_address(value)


def test_bytes_are_even_length_0x_hex() -> None:
    assert parse_bytes("0x") == b""
    assert parse_bytes("0xABcd") == b"\xab\xcd"
    for bad in ("abcd", "0xabc", "0xzz"):
        with pytest.raises(InvalidInput, match="even number of hex digits"):
            parse_bytes(bad)


def test_bytes32_is_exactly_32_bytes() -> None:
    assert parse_bytes32("0x" + "11" * 32) == b"\x11" * 32
    with pytest.raises(InvalidInput, match="exactly 32 bytes"):
        parse_bytes32("0x" + "11" * 31)


def pay_input(api: Api, payer: LocalAccount, overrides: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "payer": payer.address,
        "token": api.usdc,
        "lane": "0",
        "entries": [{"payee": payer.address, "cumulativeAmount": "1"}],
        "purchase": "0x" + "00" * 32,
        "signature": "0x" + "00" * 65,
        "resourceId": "article-1",
    }
    return fields | overrides


PAY = "mutation($input: PayInput!) { pay(input: $input) { __typename } }"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("payer", "0xnot-an-address", "an Address is 0x followed by 40 hex digits"),
        ("lane", "-5", "an Amount is a non-negative integer"),
        ("lane", str(2**256), "an Amount is at most 2^256-1"),
        ("lane", 5, "an Amount is a string of decimal digits"),
        ("signature", "0xgarbage", "Bytes is 0x followed by an even number of hex digits"),
        ("purchase", "0x1234", "a Bytes32 is exactly 32 bytes"),
    ],
)
def test_bad_scalars_in_variables_are_validation_errors_naming_the_field(
    api: Api, payer: LocalAccount, field: str, value: Any, expected: str
) -> None:
    error = api.error(PAY, {"input": pay_input(api, payer, {field: value})})
    assert expected in error["message"]
    assert "$input" in error["message"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert api.execute(PAY, {"input": pay_input(api, payer, {field: value})})["data"] is None


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ('account(payer: "0x12", token: "{a}") { balance }', "an Address is 0x followed by 40 hex digits"),
        ('voucherToSign(payer: "0xzz", resourceId: "x") { lane }', "an Address is 0x followed by 40 hex"),
        (
            'permitToSign(owner: "{a}", token: "{a}", amount: "-1", deadline: 1) { message }',
            "an Amount is a non-negative integer",
        ),
        (
            'permitToSign(owner: "{a}", token: "{a}", amount: "1", deadline: -1) { message }',
            "a Timestamp (unix seconds) is a JSON integer",
        ),
    ],
)
def test_bad_scalars_in_literals_are_validation_errors(
    api: Api, payer: LocalAccount, literal: str, expected: str
) -> None:
    error = api.error("{ " + literal.replace("{a}", payer.address) + " }")
    assert expected in error["message"]
    assert error["extensions"]["code"] == "INVALID_INPUT"


def test_addresses_come_back_checksummed_whatever_case_went_in(api: Api, payer: LocalAccount) -> None:
    query = "query($p: Address!, $t: Address!) { account(payer: $p, token: $t) { payer token } }"
    account = api.data(query, {"p": payer.address.lower(), "t": api.usdc.upper().replace("0X", "0x")})[
        "account"
    ]
    assert account == {"payer": payer.address, "token": api.usdc}


def test_a_query_without_the_required_arguments_is_a_validation_error(api: Api) -> None:
    error = api.execute("{ account { balance } }")["errors"][0]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_a_document_that_does_not_parse_is_a_parse_error(api: Api) -> None:
    assert api.error("{ account(")["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_account_of_a_malformed_address_never_reaches_the_services(api: Api) -> None:
    assert api.post(ACCOUNT, {"p": "0x", "t": "0x"}).status_code == 200

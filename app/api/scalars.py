"""Custom scalars: how amounts, addresses, bytes and times travel in GraphQL.

Each is a `NewType` (what resolvers see) mapped to its GraphQL definition in
`SCALARS` (the schema's `scalar_map`). A parser refuses bad input with
`InvalidInput`: graphql-core turns that into a validation error that names the
argument, and the error carries `extensions.code = INVALID_INPUT`.
"""

from __future__ import annotations

import re
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from app.core.errors import InvalidInput
from app.core.types import UINT256_MAX, Address, to_address

MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JSON number carries exactly in every client (JavaScript's Number)."""

Amount = NewType("Amount", int)
Bytes32 = NewType("Bytes32", bytes)
Bytes = NewType("Bytes", bytes)
Timestamp = NewType("Timestamp", int)
SafeInt = NewType("SafeInt", int)

# Matched with fullmatch: `$` would also match before a final newline ("1\n" as an Amount).
_DIGITS = re.compile(r"0|[1-9][0-9]*")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_MAX_AMOUNT_DIGITS = len(str(UINT256_MAX))  # before int(): it refuses over 4,300 digits with ValueError
MAX_BYTES = 4096  # a signature (65 bytes) or an EIP-1271 blob; anything bigger is not ours


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def parse_amount(value: Any) -> Amount:
    if not isinstance(value, str):
        raise InvalidInput(
            f"an Amount is a string of decimal digits (JSON numbers lose precision), got {_show(value)}"
        )
    if not _DIGITS.fullmatch(value):
        raise InvalidInput(
            f"an Amount is a non-negative integer in base units written as decimal digits, "
            f"without sign, spaces or leading zeros, got {_show(value)}"
        )
    if len(value) > _MAX_AMOUNT_DIGITS or int(value) > UINT256_MAX:
        raise InvalidInput(f"an Amount is at most 2^256-1, got {_show(value)}")
    return Amount(int(value))


def serialize_amount(value: int) -> str:
    return str(value)


def parse_address(value: Any) -> Address:
    if not isinstance(value, str):
        raise InvalidInput(f"an Address is a string, 0x and 40 hex digits, got {_show(value)}")
    # Checked here, not left to to_address: eth_utils raises ValueError on "0x<40 hex>\n", which
    # core's `$`-anchored pattern lets through, and that would be a masked internal error.
    if not _ADDRESS.fullmatch(value):
        raise InvalidInput(f"an Address is 0x followed by 40 hex digits (any case), got {_show(value)}")
    return to_address(value)


def serialize_address(value: str) -> str:
    return to_address(value)


def _parse_hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise InvalidInput(f"{what} is 0x followed by an even number of hex digits, got {_show(value)}")
    data = bytes.fromhex(value[2:])
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{what} is at most {MAX_BYTES} bytes, got {len(data)}")
    return data


def parse_bytes(value: Any) -> Bytes:
    return Bytes(_parse_hex(value, "Bytes"))


def parse_bytes32(value: Any) -> Bytes32:
    data = _parse_hex(value, "a Bytes32")
    if len(data) != 32:
        raise InvalidInput(f"a Bytes32 is exactly 32 bytes (0x and 64 hex digits), got {len(data)} bytes")
    return Bytes32(data)


def serialize_bytes(value: bytes) -> str:
    return "0x" + value.hex()


def _parse_safe_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise InvalidInput(f"{what} is a JSON integer from 0 to 2^53-1, got {_show(value)}")
    return value


def parse_timestamp(value: Any) -> Timestamp:
    return Timestamp(_parse_safe_int(value, "a Timestamp (unix seconds)"))


def parse_safe_int(value: Any) -> SafeInt:
    return SafeInt(_parse_safe_int(value, "a SafeInt"))


def serialize_int(value: int) -> int:
    return value


SCALARS: dict[object, ScalarDefinition] = {
    Amount: strawberry.scalar(
        name="Amount",
        description="An amount in a token's base units (uint256) as a string of decimal digits, "
        'e.g. "1500000" for 1.5 USDC. Amounts above 2^128-1 are refused by the hub.',
        serialize=serialize_amount,
        parse_value=parse_amount,
    ),
    Address: strawberry.scalar(
        name="Address",
        description="A 20-byte address: 0x and 40 hex digits. Any case is accepted; "
        "always returned EIP-55 checksummed.",
        serialize=serialize_address,
        parse_value=parse_address,
    ),
    Bytes32: strawberry.scalar(
        name="Bytes32",
        description="Exactly 32 bytes as 0x and 64 hex digits.",
        serialize=serialize_bytes,
        parse_value=parse_bytes32,
    ),
    Bytes: strawberry.scalar(
        name="Bytes",
        description=f"Bytes as 0x and an even number of hex digits (at most {MAX_BYTES} bytes).",
        serialize=serialize_bytes,
        parse_value=parse_bytes,
    ),
    Timestamp: strawberry.scalar(
        name="Timestamp",
        description="Unix time in seconds, as a JSON integer.",
        serialize=serialize_int,
        parse_value=parse_timestamp,
    ),
    SafeInt: strawberry.scalar(
        name="SafeInt",
        description="A non-negative integer up to 2^53-1 (exact as a JSON number): "
        "chain ids, block numbers, nonces.",
        serialize=serialize_int,
        parse_value=parse_safe_int,
    ),
}

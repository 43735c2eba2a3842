"""Addresses: EIP-55 checksummed text, parsed from any case."""

from __future__ import annotations

import functools
import re
from typing import NewType

from micropayments_client.keccak import keccak

Address = NewType("Address", str)
"""An EIP-55 checksummed 0x address."""

UINT128_MAX = 2**128 - 1
UINT256_MAX = 2**256 - 1

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")


def checksum(address: bytes) -> Address:
    """EIP-55: each hex letter upper-cased where the keccak of the lowercase hex has a high nibble."""
    lower = address.hex()
    hashed = keccak(lower.encode()).hex()
    return Address(
        "0x" + "".join(c.upper() if h in "89abcdef" else c for c, h in zip(lower, hashed, strict=False))
    )


class InvalidAddressError(Exception):
    """The text is not a 0x-prefixed 20-byte hex address."""


@functools.lru_cache(maxsize=4096)
def to_address(text: str) -> Address:
    """Parses and checksums an address; any case is accepted, as wallets send both."""
    if not _ADDRESS_RE.fullmatch(text):
        raise InvalidAddressError(f"not a 0x-prefixed 20-byte hex address: {text!r}")
    return checksum(bytes.fromhex(text[2:]))

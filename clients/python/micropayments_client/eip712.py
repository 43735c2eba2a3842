"""EIP-712 types of protocol v2 as the client signs and checks them, and their digests.

A copy of the server's definitions (app.core.eip712), so that the client installs without the
server; tests/client/test_python_client_package.py holds the two to the same digests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from micropayments_client.addresses import Address
from micropayments_client.keccak import keccak

DOMAIN_NAME = "MicropaymentHub"
DOMAIN_VERSION = "2"

MAX_LANE_ENTRIES = 32
"""The most payees one lane's vector holds (the contract's MAX_LANE_ENTRIES)."""
MAX_LANE = 2**64 - 1
MAX_VALID_UNTIL = 2**64 - 1

EIP712_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
ENTRY_FIELDS = [
    {"name": "payee", "type": "address"},
    {"name": "cumulativeAmount", "type": "uint256"},
]
PAYER_VOUCHER_FIELDS = [
    {"name": "payer", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "lane", "type": "uint256"},
    {"name": "entries", "type": "Entry[]"},
    {"name": "purchase", "type": "bytes32"},
]
SESSION_GRANT_FIELDS = [
    {"name": "payer", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "lane", "type": "uint256"},
    {"name": "maxTotal", "type": "uint256"},
    {"name": "validUntil", "type": "uint256"},
]
ACKNOWLEDGEMENT_FIELDS = [{"name": "voucherDigest", "type": "bytes32"}]


def _encode_type(name: str, fields: list[dict[str, str]]) -> str:
    return f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})"


DOMAIN_TYPEHASH = keccak(_encode_type("EIP712Domain", EIP712_DOMAIN_FIELDS).encode())
ENTRY_TYPEHASH = keccak(_encode_type("Entry", ENTRY_FIELDS).encode())
PAYER_VOUCHER_TYPEHASH = keccak(
    (_encode_type("PayerVoucher", PAYER_VOUCHER_FIELDS) + _encode_type("Entry", ENTRY_FIELDS)).encode()
)
SESSION_GRANT_TYPEHASH = keccak(_encode_type("SessionGrant", SESSION_GRANT_FIELDS).encode())
ACKNOWLEDGEMENT_TYPEHASH = keccak(_encode_type("Acknowledgement", ACKNOWLEDGEMENT_FIELDS).encode())


def word_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def word_uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


@dataclass(frozen=True)
class Domain:
    """The hub's EIP-712 domain: binds every signature to one chain and one hub."""

    chain_id: int
    hub: Address

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            DOMAIN_TYPEHASH
            + keccak(DOMAIN_NAME.encode())
            + keccak(DOMAIN_VERSION.encode())
            + word_uint(self.chain_id)
            + word_address(self.hub)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.hub,
        }


@dataclass(frozen=True)
class Entry:
    """The total ever paid to `payee` on one lane."""

    payee: Address
    cumulative_amount: int

    def struct_hash(self) -> bytes:
        return keccak(ENTRY_TYPEHASH + word_address(self.payee) + word_uint(self.cumulative_amount))


Entries = tuple[Entry, ...]


def entries_hash(entries: Entries) -> bytes:
    """hashStruct of an Entry[]: the lane commitment the contract stores after a claim."""
    return keccak(b"".join(entry.struct_hash() for entry in entries))


@dataclass(frozen=True)
class PayerVoucher:
    """ "On `lane`, the total I have ever paid each payee in `token` is now this." """

    payer: Address
    token: Address
    lane: int
    entries: Entries
    purchase: bytes  # 32 bytes chosen by the client; binds the voucher to what was bought

    def struct_hash(self) -> bytes:
        return keccak(
            PAYER_VOUCHER_TYPEHASH
            + word_address(self.payer)
            + word_address(self.token)
            + word_uint(self.lane)
            + entries_hash(self.entries)
            + self.purchase
        )

    def message(self) -> dict[str, Any]:
        return {
            "payer": self.payer,
            "token": self.token,
            "lane": self.lane,
            "entries": [{"payee": e.payee, "cumulativeAmount": e.cumulative_amount} for e in self.entries],
            "purchase": "0x" + self.purchase.hex(),
        }


@dataclass(frozen=True)
class SessionGrant:
    """The payer lets `signer` sign its vouchers in `token` on `lane`, while the vector's total is at
    most `max_total`, until `valid_until` (chain time)."""

    payer: Address
    signer: Address
    token: Address
    lane: int
    max_total: int
    valid_until: int

    def struct_hash(self) -> bytes:
        return keccak(
            SESSION_GRANT_TYPEHASH
            + word_address(self.payer)
            + word_address(self.signer)
            + word_address(self.token)
            + word_uint(self.lane)
            + word_uint(self.max_total)
            + word_uint(self.valid_until)
        )

    def message(self) -> dict[str, Any]:
        return {
            "payer": self.payer,
            "signer": self.signer,
            "token": self.token,
            "lane": self.lane,
            "maxTotal": self.max_total,
            "validUntil": self.valid_until,
        }


@dataclass(frozen=True)
class Acknowledgement:
    """The operator's countersignature of a voucher it accepted."""

    voucher_digest: bytes

    def struct_hash(self) -> bytes:
        return keccak(ACKNOWLEDGEMENT_TYPEHASH + self.voucher_digest)

    def message(self) -> dict[str, Any]:
        return {"voucherDigest": "0x" + self.voucher_digest.hex()}


Signable = PayerVoucher | SessionGrant | Acknowledgement


def digest(domain: Domain, message: Signable) -> bytes:
    """The EIP-712 digest that is signed: keccak(0x1901 || domainSeparator || structHash)."""
    return keccak(b"\x19\x01" + domain.separator + message.struct_hash())


def typed_data(domain: Domain, message: Signable) -> dict[str, Any]:
    """The full EIP-712 payload (`domain`, `types`, `primaryType`, `message`) a wallet signs."""
    types: dict[str, list[dict[str, str]]] = {"EIP712Domain": EIP712_DOMAIN_FIELDS}
    if isinstance(message, PayerVoucher):
        primary = "PayerVoucher"
        types[primary] = PAYER_VOUCHER_FIELDS
        types["Entry"] = ENTRY_FIELDS
    elif isinstance(message, SessionGrant):
        primary = "SessionGrant"
        types[primary] = SESSION_GRANT_FIELDS
    else:
        primary = "Acknowledgement"
        types[primary] = ACKNOWLEDGEMENT_FIELDS
    return {"domain": domain.as_json(), "types": types, "primaryType": primary, "message": message.message()}

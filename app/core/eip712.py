"""EIP-712 types of the protocol, defined once for Python, and fast digests.

The digests are computed from a precomputed domain separator and type hashes
(one keccak per struct plus one for the digest), which is what the contract
does too; `typed_data()` gives the same message as the JSON a wallet signs,
and tests check both paths agree with eth-account and with the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from app.core.keccak import keccak
from app.core.types import Address

DOMAIN_NAME = "MicropaymentHub"
DOMAIN_VERSION = "1"

EIP712_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
VOUCHER_FIELDS = [
    {"name": "payer", "type": "address"},
    {"name": "payee", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "cumulativeAmount", "type": "uint256"},
    {"name": "purchase", "type": "bytes32"},
]
SIGNER_AUTHORIZATION_FIELDS = [
    {"name": "payer", "type": "address"},
    {"name": "signer", "type": "address"},
    {"name": "token", "type": "address"},
    {"name": "allowance", "type": "uint256"},
    {"name": "validUntil", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
]


def _encode_type(name: str, fields: list[dict[str, str]]) -> bytes:
    return f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})".encode()


DOMAIN_TYPEHASH = keccak(_encode_type("EIP712Domain", EIP712_DOMAIN_FIELDS))
VOUCHER_TYPEHASH = keccak(_encode_type("Voucher", VOUCHER_FIELDS))
SIGNER_AUTHORIZATION_TYPEHASH = keccak(_encode_type("SignerAuthorization", SIGNER_AUTHORIZATION_FIELDS))


def _word_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _word_uint(value: int) -> bytes:
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
            + _word_uint(self.chain_id)
            + _word_address(self.hub)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.hub,
        }


@dataclass(frozen=True)
class Voucher:
    """ "The total `payer` has ever paid `payee` in `token` is now `cumulative_amount`."""

    payer: Address
    payee: Address
    token: Address
    cumulative_amount: int
    purchase: bytes  # 32 bytes chosen by the client; binds the voucher to what was bought

    def struct_hash(self) -> bytes:
        return keccak(
            VOUCHER_TYPEHASH
            + _word_address(self.payer)
            + _word_address(self.payee)
            + _word_address(self.token)
            + _word_uint(self.cumulative_amount)
            + self.purchase
        )

    def message(self) -> dict[str, Any]:
        return {
            "payer": self.payer,
            "payee": self.payee,
            "token": self.token,
            "cumulativeAmount": self.cumulative_amount,
            "purchase": "0x" + self.purchase.hex(),
        }


@dataclass(frozen=True)
class SignerAuthorization:
    """The payer lets `signer` sign vouchers in `token` up to `allowance` until `valid_until`."""

    payer: Address
    signer: Address
    token: Address
    allowance: int
    valid_until: int
    nonce: int

    def struct_hash(self) -> bytes:
        return keccak(
            SIGNER_AUTHORIZATION_TYPEHASH
            + _word_address(self.payer)
            + _word_address(self.signer)
            + _word_address(self.token)
            + _word_uint(self.allowance)
            + _word_uint(self.valid_until)
            + _word_uint(self.nonce)
        )

    def message(self) -> dict[str, Any]:
        return {
            "payer": self.payer,
            "signer": self.signer,
            "token": self.token,
            "allowance": self.allowance,
            "validUntil": self.valid_until,
            "nonce": self.nonce,
        }


def digest(domain_separator: bytes, struct_hash: bytes) -> bytes:
    """The EIP-712 digest that is signed: keccak(0x1901 || domainSeparator || structHash)."""
    return keccak(b"\x19\x01" + domain_separator + struct_hash)


def voucher_digest(domain: Domain, voucher: Voucher) -> bytes:
    return digest(domain.separator, voucher.struct_hash())


def signer_authorization_digest(domain: Domain, auth: SignerAuthorization) -> bytes:
    return digest(domain.separator, auth.struct_hash())


def typed_data(domain: Domain, message: Voucher | SignerAuthorization) -> dict[str, Any]:
    """The full EIP-712 payload (`domain`, `types`, `primaryType`, `message`) a wallet signs."""
    if isinstance(message, Voucher):
        primary, fields = "Voucher", VOUCHER_FIELDS
    else:
        primary, fields = "SignerAuthorization", SIGNER_AUTHORIZATION_FIELDS
    return {
        "domain": domain.as_json(),
        "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, primary: fields},
        "primaryType": primary,
        "message": message.message(),
    }


def channel_id(payer: Address, payee: Address, token: Address) -> bytes:
    """keccak256(abi.encode(payer, payee, token)), as the contract computes it."""
    return keccak(_word_address(payer) + _word_address(payee) + _word_address(token))

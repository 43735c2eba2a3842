"""The exact EIP-712 payloads (domain, types, primaryType, message) a wallet or viem signs next."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from eth_hash.auto import keccak

from app.core.eip712 import (
    EIP712_DOMAIN_FIELDS,
    Domain,
    SignerAuthorization,
    Voucher,
    channel_id,
    typed_data,
)
from app.core.errors import InvalidInput, UnknownResource, UnknownToken
from app.core.types import UINT128_MAX, Address
from app.store import catalog, payments
from app.store.database import Database

TokenDomainLookup = Callable[[Address], dict[str, Any] | None]
"""token -> its EIP-712 domain as JSON ({name, version, chainId, verifyingContract}), if it has one."""
TokenNonceLookup = Callable[[Address, Address], int]
"""(token, owner) -> the owner's EIP-2612 permit nonce."""

PERMIT_FIELDS = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]
RECEIVE_WITH_AUTHORIZATION_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]


class TypedData:
    def __init__(
        self, db: Database, domain: Domain, token_domain: TokenDomainLookup, token_nonce: TokenNonceLookup
    ) -> None:
        self._db = db
        self._domain = domain
        self._token_domain = token_domain
        self._token_nonce = token_nonce

    def voucher(self, payer: Address, resource_id: str, purchase: bytes | None = None) -> dict[str, Any]:
        """The next voucher `payer` signs to pay for `resource_id`: cumulative = accepted + price."""
        with self._db.read() as conn:
            resource = catalog.get_resource(conn, resource_id)
            if resource is None or not resource.active:
                raise UnknownResource(f"no resource {resource_id!r} is for sale", resource=resource_id)
            channel = payments.get_channel(conn, channel_id(payer, resource.payee, resource.token))
        base = 0 if channel is None else max(channel.accepted, channel.claimed)
        if purchase is None:
            # keccak256(resource id, a random request id): binds the voucher to this purchase only.
            purchase = keccak(resource_id.encode() + os.urandom(16))
        voucher = Voucher(payer, resource.payee, resource.token, base + resource.price, purchase)
        return typed_data(self._domain, voucher)

    def signer_authorization(
        self,
        payer: Address,
        signer: Address,
        token: Address,
        allowance: int,
        valid_until: int,
        nonce: int | None,
    ) -> dict[str, Any]:
        if not 0 < allowance <= UINT128_MAX:
            raise InvalidInput(f"allowance must be between 1 and 2^128-1, got {allowance}")
        if nonce is None:
            nonce = int.from_bytes(os.urandom(8), "big")  # unordered nonces: any unused value works
        auth = SignerAuthorization(payer, signer, token, allowance, valid_until, nonce)
        return typed_data(self._domain, auth)

    def permit(self, owner: Address, token: Address, amount: int, deadline: int) -> dict[str, Any]:
        """EIP-2612 permit letting the hub pull `amount` (for depositWithPermit)."""
        domain = self._require_token_domain(token)
        return {
            "domain": domain,
            "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "Permit": PERMIT_FIELDS},
            "primaryType": "Permit",
            "message": {
                "owner": owner,
                "spender": self._domain.hub,
                "value": amount,
                "nonce": self._token_nonce(token, owner),
                "deadline": deadline,
            },
        }

    def receive_authorization(
        self, payer: Address, token: Address, amount: int, valid_after: int, valid_before: int
    ) -> dict[str, Any]:
        """EIP-3009 ReceiveWithAuthorization to the hub (for depositWithAuthorization)."""
        domain = self._require_token_domain(token)
        return {
            "domain": domain,
            "types": {
                "EIP712Domain": EIP712_DOMAIN_FIELDS,
                "ReceiveWithAuthorization": RECEIVE_WITH_AUTHORIZATION_FIELDS,
            },
            "primaryType": "ReceiveWithAuthorization",
            "message": {
                "from": payer,
                "to": self._domain.hub,
                "value": amount,
                "validAfter": valid_after,
                "validBefore": valid_before,
                "nonce": "0x" + os.urandom(32).hex(),
            },
        }

    def token_domain(self, token: Address) -> dict[str, Any] | None:
        """The token's own EIP-712 domain as JSON (EIP-5267), or None if it reports none."""
        return self._token_domain(token)

    def _require_token_domain(self, token: Address) -> dict[str, Any]:
        domain = self._token_domain(token)
        if domain is None:
            raise UnknownToken(
                f"token {token} has no EIP-712 domain: it supports neither permit nor EIP-3009"
            )
        return domain

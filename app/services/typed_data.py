"""The exact EIP-712 payloads (domain, types, primaryType, message) a wallet or viem signs next."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from app.core import access, ledger
from app.core.eip712 import EIP712_DOMAIN_FIELDS, Domain, Entries, PayerVoucher, SessionGrant, typed_data
from app.core.errors import LaneFull, SignerNotAuthorized, UnknownResource, UnknownToken
from app.core.types import Address
from app.services.clock import Clock
from app.store import access as holdings
from app.store import catalog, payments
from app.store.catalog import Resource
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


@dataclass(frozen=True)
class VoucherToSign:
    typed_data: dict[str, Any]
    resource: Resource
    lane: int
    previous: Entries  # the lane's last accepted vector: typed_data's entries raise one payee by the price


class TypedData:
    def __init__(
        self,
        db: Database,
        domain: Domain,
        token_domain: TokenDomainLookup,
        token_nonce: TokenNonceLookup,
        clock: Clock,
    ) -> None:
        self._clock = clock
        self._db = db
        self._domain = domain
        self._token_domain = token_domain
        self._token_nonce = token_nonce

    def voucher(
        self, payer: Address, resource_id: str, signer: Address | None = None, purchase: bytes | None = None
    ) -> VoucherToSign:
        """The next voucher to pay for `resource_id`: the lane's last accepted vector with the
        resource's payee raised by its price. On the key's lane when `signer` is a session key with
        a grant, else on the payer's wallet lane (a fresh one when the current one is full).
        Refuses ALREADY_OWNED for a purchase the payer owns or a time pass that still runs."""
        with self._db.read() as conn:
            resource = catalog.get_resource(conn, resource_id)
            if resource is None or not resource.active:
                raise UnknownResource(f"no resource {resource_id!r} is for sale", resource=resource_id)
            if resource.access is not access.AccessModel.PER_USE:
                latest = holdings.latest_receipt(conn, payer, resource_id)
                held = access.access(resource.access, resource.pass_seconds, latest, self._clock())
                access.check_not_owned(resource_id, held)
            if signer is None or payments.speaks_for(conn, payer, signer):
                lane = payments.wallet_lane(conn, payer, resource.token, resource.payee, signer)
            else:
                grants = [g for g in payments.list_grants(conn, payer)
                          if g.grant.signer == signer and g.grant.token == resource.token]  # fmt: skip
                if not grants:
                    raise SignerNotAuthorized(
                        f"{signer} has no session grant from {payer} in {resource.token}: authorise it first"
                    )
                lane = grants[0].grant.lane
            previous = payments.lane_vector(conn, payer, resource.token, lane)
        entries = ledger.raised(previous, resource.payee, resource.price)
        if len(entries) > ledger.MAX_LANE_ENTRIES:
            raise LaneFull(
                f"the session key's lane already pays {ledger.MAX_LANE_ENTRIES} payees: authorise a new key",
                lane=lane,
            )
        if purchase is None:
            # keccak256(resource id, a random request id): binds the voucher to this purchase only.
            purchase = keccak(resource_id.encode() + os.urandom(16))
        voucher = PayerVoucher(payer, resource.token, lane, entries, purchase)
        return VoucherToSign(typed_data(self._domain, voucher), resource, lane, previous)

    def grant(
        self, payer: Address, signer: Address, token: Address, max_total: int, valid_until: int
    ) -> dict[str, Any]:
        """A SessionGrant for `signer` on a lane of its own, which no voucher or grant uses yet."""
        with self._db.read() as conn:
            lane = payments.next_free_lane(conn, payer, token)
        grant = SessionGrant(payer, signer, token, lane, max_total, valid_until)
        ledger.check_grant_shape(grant)
        return typed_data(self._domain, grant)

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

"""Errors of the protocol, in two families.

    Exception
    ├── Refusal              refused, safe to show the client; stable `code`, structured `fields`
    │   ├── InvalidInput           malformed address, amount, signature, id...
    │   ├── WrongChain             chain id or hub of the request is not ours
    │   ├── UnknownToken           token not allow-listed
    │   ├── UnknownResource        no such resource for sale
    │   ├── ResourceMismatch       voucher payee/token differ from the resource's
    │   ├── BadSignature           signature does not recover to the payer or one of its keys
    │   ├── SignerNotAuthorized    session key unknown, expired, revoked, or for another lane or token
    │   ├── SignerCapExceeded      the vector's total would pass the key's grant maxTotal
    │   ├── LaneFull               the lane already pays MAX_LANE_ENTRIES payees
    │   ├── CumulativeMismatch     the vector is not the lane's last + price (carries the latest voucher)
    │   ├── InsufficientFunds      headroom does not cover the price
    │   ├── AlreadyOwned           bought, or a time pass still runs: nothing to pay (carries the receipt)
    │   ├── PaymentAlreadyUsed     a paywall's X-PAYMENT replayed for something paid per use
    │   ├── Unauthenticated        sign in first
    │   ├── Forbidden              signed in, but not as the owner of this data
    │   ├── RateLimited            too many requests for this address
    │   ├── IdempotencyConflict    idempotency key reused with a different request
    │   ├── ChainRefused           the hub would revert a transaction to relay (carries its error)
    │   └── NotConfigured          the server is not set up for this (e.g. no operator key)
    └── Transient            a dependency is down or busy: retry later (node, database)

Names match the contract's errors where both exist. Bugs get no class.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Refusal(Exception):
    """A request refused for a reason the client can act on."""

    code: ClassVar[str] = "REFUSED"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidInput(Refusal):
    code = "INVALID_INPUT"


class WrongChain(Refusal):
    code = "WRONG_CHAIN"


class UnknownToken(Refusal):
    code = "UNKNOWN_TOKEN"


class UnknownResource(Refusal):
    code = "UNKNOWN_RESOURCE"


class ResourceMismatch(Refusal):
    code = "RESOURCE_MISMATCH"


class BadSignature(Refusal):
    code = "BAD_SIGNATURE"


class SignerNotAuthorized(Refusal):
    code = "SIGNER_NOT_AUTHORIZED"


class SignerCapExceeded(Refusal):
    code = "SIGNER_CAP_EXCEEDED"


class LaneFull(Refusal):
    code = "LANE_FULL"


class CumulativeMismatch(Refusal):
    code = "CUMULATIVE_MISMATCH"


class InsufficientFunds(Refusal):
    code = "INSUFFICIENT_FUNDS"


class AlreadyOwned(Refusal):
    code = "ALREADY_OWNED"


class PaymentAlreadyUsed(Refusal):
    code = "PAYMENT_ALREADY_USED"


class Unauthenticated(Refusal):
    code = "UNAUTHENTICATED"


class Forbidden(Refusal):
    code = "FORBIDDEN"


class RateLimited(Refusal):
    code = "RATE_LIMITED"


class IdempotencyConflict(Refusal):
    code = "IDEMPOTENCY_CONFLICT"


class ChainRefused(Refusal):
    code = "CHAIN_REFUSED"


class NotConfigured(Refusal):
    code = "NOT_CONFIGURED"


class Transient(Exception):
    """A dependency (chain node, database) is unavailable or busy; the same request may succeed later."""

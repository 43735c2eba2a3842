"""Gasless for users: the operator relays deposits signed with EIP-2612 permits or EIP-3009
authorizations, and pays their gas. (Session keys need no transaction at all in v2: see
app.services.session_keys.)"""

from __future__ import annotations

from typing import Any

from app.chain.operator import Reverted
from app.core.errors import ChainRefused, InvalidInput, NotConfigured
from app.core.signatures import split
from app.core.types import Address
from app.services.transactions import Submitted, TxManager

# The hub's errors, as a developer reads them.
_EXPLAINED = {
    "TokenNotAllowed": "the hub does not accept this token",
    "AmountTooLarge": "an amount does not fit in 128 bits",
    "PermitFailed": "the permit was refused and the hub's allowance does not cover the amount",
    "TransferAmountMismatch": "the token delivered another amount than requested (fee-on-transfer?)",
    "ZeroAmount": "the amount must be positive",
}


class Relay:
    def __init__(self, transactions: TxManager | None) -> None:
        self._transactions = transactions

    def deposit_with_permit(
        self, payer: Address, token: Address, amount: int, deadline: int, signature: bytes
    ) -> Submitted:
        v, r, s = _vrs(signature)
        return self._send("depositWithPermit", {"payer": payer}, payer, token, amount, deadline, v, r, s)

    def deposit_with_authorization(
        self,
        payer: Address,
        token: Address,
        amount: int,
        valid_after: int,
        valid_before: int,
        nonce: bytes,
        signature: bytes,
    ) -> Submitted:
        v, r, s = _vrs(signature)
        args = (payer, token, amount, valid_after, valid_before, nonce, v, r, s)
        return self._send("depositWithAuthorization", {"payer": payer}, *args)

    def _send(self, function: str, payload: dict[str, Any], *args: Any) -> Submitted:
        if self._transactions is None:
            raise NotConfigured("this server relays nothing: it has no OPERATOR_KEY")
        try:
            return self._transactions.submit(self._transactions.encode(function, *args), function, payload)
        except Reverted as reverted:
            explanation = _EXPLAINED.get(reverted.error, "the hub would revert this transaction")
            raise ChainRefused(
                f"{reverted.error}: {explanation}",
                error=reverted.error,
                args=[str(a) for a in reverted.args_],
            ) from reverted


def _vrs(signature: bytes) -> tuple[int, bytes, bytes]:
    parts = split(signature)
    if parts is None:
        raise InvalidInput("the signature must be 65 bytes (r, s, v) or 64 bytes (EIP-2098), with low s")
    r, s, parity = parts
    return 27 + parity, r.to_bytes(32, "big"), s.to_bytes(32, "big")

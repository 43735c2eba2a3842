"""Gasless for users: the operator relays deposits signed with EIP-2612 permits or EIP-3009
authorizations, and pays their gas. (Session keys need no transaction at all in v2: see
app.services.session_keys.)

EIP-3009 deposits that arrive together share one transaction (hub.depositWithAuthorizations),
through the same group commit as pays: one alone is sent at once with no added wait, and under
load one transaction carries many payers' deposits (about 62,000 gas each instead of 99,000). An
authorization that fails inside a batch (already used, expired) does not stop the others: the hub
emits DepositFailed for it, and the indexer shows that no deposit arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.chain.operator import Reverted
from app.core.errors import ChainRefused, InvalidInput, NotConfigured
from app.core.signatures import split
from app.core.types import Address
from app.services.committer import GroupCommitter
from app.services.transactions import Submitted, TxManager

# The hub's errors, as a developer reads them.
_EXPLAINED = {
    "TokenNotAllowed": "the hub does not accept this token",
    "AmountTooLarge": "an amount does not fit in 128 bits",
    "PermitFailed": "the permit was refused and the hub's allowance does not cover the amount",
    "TransferAmountMismatch": "the token delivered another amount than requested (fee-on-transfer?)",
    "ZeroAmount": "the amount must be positive",
}


@dataclass(frozen=True)
class _Authorization:
    token: Address
    fields: tuple[Any, ...]  # (payer, amount, validAfter, validBefore, nonce, v, r, s), as the hub takes them


class Relay:
    def __init__(self, transactions: TxManager | None) -> None:
        self._transactions = transactions
        self._authorizations: GroupCommitter[_Authorization, Submitted | ChainRefused] = GroupCommitter(
            self._send_authorizations, max_group=100
        )

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
        if self._transactions is None:
            raise NotConfigured("this server relays nothing: it has no OPERATOR_KEY")
        v, r, s = _vrs(signature)
        outcome = self._authorizations.submit(
            _Authorization(token, (payer, amount, valid_after, valid_before, nonce, v, r, s))
        )
        if isinstance(outcome, ChainRefused):
            raise outcome
        return outcome

    def close(self) -> None:
        self._authorizations.close()

    def _send_authorizations(self, group: Sequence[_Authorization]) -> list[Submitted | ChainRefused]:
        """One transaction per token for the authorizations that arrived together; a lone one goes
        through depositWithAuthorization, whose simulation explains exactly what the hub refuses."""
        outcomes: dict[int, Submitted | ChainRefused] = {}
        for token in sorted({a.token for a in group}):
            indices = [i for i, a in enumerate(group) if a.token == token]
            try:
                if len(indices) == 1:
                    item = group[indices[0]]
                    sent = self._send(
                        "depositWithAuthorization", {"payer": item.fields[0]}, item.fields[0], token,
                        *item.fields[1:],
                    )  # fmt: skip
                else:
                    rows = [group[i].fields for i in indices]
                    payload = {"payers": [row[0] for row in rows]}
                    sent = self._send("depositWithAuthorizations", payload, token, rows)
            except ChainRefused as refused:
                for i in indices:
                    outcomes[i] = refused
                continue
            for i in indices:
                outcomes[i] = sent
        return [outcomes[i] for i in range(len(group))]

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

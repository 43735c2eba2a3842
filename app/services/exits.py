"""The two exits, which work without this server:

- a creator exports the latest voucher of each of its channels in the exact form `claim`
  takes, and can submit them itself (any wallet, `python -m app claim-exported`), then
  withdraw its earnings with `withdrawEarnings`;
- a payer requests a withdrawal, waits the delay, and withdraws.
Both are transactions the user's own wallet sends; the server hands out ready calldata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.chain.calls import hub_calldata
from app.core.eip712 import Domain
from app.core.errors import InvalidInput
from app.core.types import UINT128_MAX, Address
from app.store import settlement
from app.store.database import Database
from app.store.settlement import Unclaimed, claim_row


@dataclass(frozen=True)
class TxRequest:
    """An unsigned transaction for the user's wallet (eth_sendTransaction fields)."""

    chain_id: int
    to: Address
    data: bytes
    description: str

    def as_json(self) -> dict[str, Any]:
        return {"chainId": self.chain_id, "to": self.to, "data": "0x" + self.data.hex(), "value": "0x0"}


class Exits:
    def __init__(self, db: Database, domain: Domain) -> None:
        self._db = db
        self._domain = domain

    def _unclaimed(self, payee: Address) -> list[Unclaimed]:
        with self._db.read() as conn:
            return [u for u in settlement.unclaimed(conn) if u.voucher.payee == payee]

    def claimable_vouchers(self, payee: Address) -> list[dict[str, Any]]:
        """The latest unclaimed voucher of each of the payee's channels, as `claim` rows (JSON)."""
        rows = self._unclaimed(payee)
        return [
            {
                "payer": u.voucher.payer,
                "payee": u.voucher.payee,
                "token": u.voucher.token,
                "cumulativeAmount": str(u.voucher.cumulative_amount),
                "purchase": "0x" + u.voucher.purchase.hex(),
                "signature": "0x" + u.signature.hex(),
            }
            for u in rows
        ]

    def export(self, payee: Address) -> dict[str, Any]:
        """Everything a creator needs to be paid with no server: the hub, the chain, the rows."""
        return {
            "chainId": self._domain.chain_id,
            "hub": self._domain.hub,
            "payee": payee,
            "claims": self.claimable_vouchers(payee),
            "howTo": "anyone calls hub.claim(claims); the payee then calls hub.withdrawEarnings(token, to)",
        }

    def claim_tx(self, payee: Address) -> TxRequest:
        rows = [claim_row(u) for u in self._unclaimed(payee)]
        return self._tx("claim", f"claim {len(rows)} vouchers", rows)

    def revoke_signer_tx(self, signer: Address) -> TxRequest:
        return self._tx("revokeSigner", "revoke a session key (after the withdrawal delay)", signer)

    def withdraw_earnings_tx(self, token: Address, to: Address) -> TxRequest:
        return self._tx("withdrawEarnings", "withdraw your earnings", token, to)

    def request_withdrawal_tx(self, token: Address, amount: int) -> TxRequest:
        if not 0 < amount <= UINT128_MAX:
            raise InvalidInput(f"amount must be between 1 and 2^128-1, got {amount}")
        return self._tx("requestWithdrawal", "request a withdrawal (payable after the delay)", token, amount)

    def cancel_withdrawal_tx(self, token: Address) -> TxRequest:
        return self._tx("cancelWithdrawal", "cancel your pending withdrawal", token)

    def withdraw_tx(self, token: Address) -> TxRequest:
        return self._tx("withdraw", "withdraw once the delay has passed", token)

    def _tx(self, function: str, description: str, *args: Any) -> TxRequest:
        return TxRequest(self._domain.chain_id, self._domain.hub, hub_calldata(function, *args), description)

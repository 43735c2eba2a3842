"""The two exits, which work without this server:

- a creator exports, for each lane that owes it more than was claimed, the lane's latest accepted
  voucher (the whole vector), its signature, the operator's acknowledgement, the grant when a key
  signed, and the lane's claimed vector; plus ready `claim(token, data)` calldata carrying the
  acknowledgements, which any wallet can send (`python -m app claim-exported`); then it withdraws
  its earnings with `withdrawEarnings`;
- a payer requests a withdrawal, waits the delay, and withdraws; or revokes a session key.
All are transactions the user's own wallet sends; the server hands out ready calldata.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from app.chain.calls import claim_calldata, hub_calldata
from app.core.claims import MAX_PAYEES_PER_CLAIM, ClaimBlock, encode_claim
from app.core.eip712 import Domain, Entries
from app.core.errors import InvalidInput
from app.core.types import UINT128_MAX, Address
from app.store import settlement
from app.store.database import Database


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

    def claim_blocks(self, payee: Address) -> list[ClaimBlock]:
        """The latest accepted voucher of each lane that owes `payee` more than was claimed, as
        acknowledged claim blocks (sendable by anyone)."""
        with self._db.read() as conn:
            return [
                settlement.claim_block(conn, key, seq, with_acknowledgement=True)
                for key, seq in settlement.owed_to(conn, payee)
            ]

    def claimable_vouchers(self, payee: Address) -> list[dict[str, Any]]:
        """Those blocks as JSON: everything a claim needs, readable without this server's code."""
        return [_block_json(block) for block in self.claim_blocks(payee)]

    def export(self, payee: Address) -> dict[str, Any]:
        """Everything a creator needs to be paid with no server: the hub, the chain, the vouchers,
        and the claim transactions ready to send."""
        blocks = self.claim_blocks(payee)
        return {
            "chainId": self._domain.chain_id,
            "hub": self._domain.hub,
            "payee": payee,
            "claims": [_block_json(block) for block in blocks],
            "transactions": [
                tx.as_json() | {"description": tx.description} for tx in self._claim_txs(blocks)
            ],
            "howTo": "any wallet sends each transaction (hub.claim(token, data)); "
            "the payee then calls hub.withdrawEarnings(token, to)",
        }

    def claim_txs(self, payee: Address) -> list[TxRequest]:
        """`claim(token, data)` transactions, with acknowledgements, for everything owed to `payee`:
        one per token (more if a token's lanes pay more than 255 payees)."""
        return self._claim_txs(self.claim_blocks(payee))

    def claim_tx(self, payee: Address) -> TxRequest:
        """The first of `claim_txs`: all that is owed when the payee is paid in one token (the API
        should offer `claim_txs` to payees paid in several). InvalidInput when nothing is owed."""
        txs = self.claim_txs(payee)
        if not txs:
            raise InvalidInput(f"nothing is owed to {payee} beyond what was claimed", payee=payee)
        return txs[0]

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

    def _claim_txs(self, blocks: list[ClaimBlock]) -> list[TxRequest]:
        by_token: dict[Address, list[ClaimBlock]] = defaultdict(list)
        for block in blocks:
            by_token[block.voucher.token].append(block)
        txs = []
        for token, token_blocks in by_token.items():
            for claim in _fit(token_blocks):
                data = claim_calldata(token, encode_claim(claim))
                description = f"claim {len(claim)} vouchers in {token}"
                txs.append(TxRequest(self._domain.chain_id, self._domain.hub, data, description))
        return txs

    def _tx(self, function: str, description: str, *args: Any) -> TxRequest:
        return TxRequest(self._domain.chain_id, self._domain.hub, hub_calldata(function, *args), description)


def _fit(blocks: list[ClaimBlock]) -> list[list[ClaimBlock]]:
    """Blocks grouped into claims of at most 255 distinct payees each (a lane has at most 32)."""
    claims: list[list[ClaimBlock]] = []
    payees: list[set[Address]] = []
    for block in blocks:
        mine = {entry.payee for entry in block.voucher.entries}
        for index, seen in enumerate(payees):
            if len(seen | mine) <= MAX_PAYEES_PER_CLAIM:
                claims[index].append(block)
                seen |= mine
                break
        else:
            claims.append([block])
            payees.append(set(mine))
    return claims


def _entries_json(entries: Entries) -> list[dict[str, str]]:
    return [{"payee": e.payee, "cumulativeAmount": str(e.cumulative_amount)} for e in entries]


def _block_json(block: ClaimBlock) -> dict[str, Any]:
    voucher = block.voucher
    grant = None
    if block.grant is not None:
        g = block.grant.grant
        grant = {"signer": g.signer, "maxTotal": str(g.max_total), "validUntil": str(g.valid_until),
                 "signature": "0x" + block.grant.signature.hex()}  # fmt: skip
    return {
        "payer": voucher.payer,
        "token": voucher.token,
        "lane": str(voucher.lane),
        "entries": _entries_json(voucher.entries),
        "purchase": "0x" + voucher.purchase.hex(),
        "signature": "0x" + block.signature.hex(),
        "acknowledgement": "0x" + (block.acknowledgement or b"").hex(),
        "grant": grant,
        "previous": _entries_json(block.previous),
    }

"""Reconciliation: every base unit the hub ever received is accounted for.

For each token, from the hub's events and views at one block:
    deposits == payer withdrawals + earnings paid out + balances left + earnings left
    hub's token holdings == balances left + earnings left
and the server's index agrees with the chain for every payer and payee it knows, and for the
commitment of every lane it has claimed on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from app.chain.interface import Hub
from app.core import events as ev
from app.core.eip712 import entries_hash
from app.core.types import Address
from app.store.database import Database
from app.store.payments import lane_vector
from app.store.tables import accounts, earnings, lanes


@dataclass
class TokenReport:
    token: Address
    deposits: int = 0
    withdrawals: int = 0
    earnings_paid: int = 0
    balances_left: int = 0
    earnings_left: int = 0
    holdings: int = 0
    index_mismatches: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        inside = self.balances_left + self.earnings_left
        return self.deposits == self.withdrawals + self.earnings_paid + inside and self.holdings == inside

    @property
    def ok(self) -> bool:
        return self.balanced and not self.index_mismatches

    def as_json(self) -> dict[str, Any]:
        report = {k: (str(v) if isinstance(v, int) else v) for k, v in asdict(self).items()}
        return {**report, "balanced": self.balanced, "ok": self.ok}


def reconcile(hub: Hub, db: Database | None, from_block: int, chunk: int = 5000) -> list[TokenReport]:
    block = hub.head()
    reports: dict[Address, TokenReport] = {}
    payers: dict[Address, set[Address]] = defaultdict(set)
    payees: dict[Address, set[Address]] = defaultdict(set)
    for start in range(from_block, block + 1, chunk):
        for event in hub.events(start, min(start + chunk - 1, block)):
            match event:
                case ev.Deposited():
                    _report(reports, event.token).deposits += event.amount
                    payers[event.token].add(event.payer)
                case ev.Withdrawn():
                    _report(reports, event.token).withdrawals += event.amount
                case ev.EarningsWithdrawn():
                    _report(reports, event.token).earnings_paid += event.amount
                    payees[event.token].add(event.payee)
                case ev.VoucherClaimed():
                    payers[event.token].add(event.payer)
                case ev.Earned():
                    payees[event.token].add(event.payee)
    for token, report in reports.items():
        chain_balances = {p: hub.balance_of(p, token, block) for p in payers[token]}
        chain_earnings = {p: hub.earnings_of(p, token, block) for p in payees[token]}
        report.balances_left = sum(chain_balances.values())
        report.earnings_left = sum(chain_earnings.values())
        report.holdings = hub.token_balance(token, hub.address)
        if db is not None:
            report.index_mismatches = _compare_index(db, token, chain_balances, chain_earnings)
            report.index_mismatches += _compare_lanes(db, hub, token, block)
    return list(reports.values())


def _report(reports: dict[Address, TokenReport], token: Address) -> TokenReport:
    return reports.setdefault(token, TokenReport(token=token))


def _compare_index(
    db: Database, token: Address, balances: dict[Address, int], earned: dict[Address, int]
) -> list[str]:
    with db.read() as conn:
        indexed_balances = {
            r.payer: r.balance for r in conn.execute(select(accounts).where(accounts.c.token == token))
        }
        indexed_earnings = {
            r.payee: r.withdrawable for r in conn.execute(select(earnings).where(earnings.c.token == token))
        }
    problems = [
        f"payer {payer}: index says {indexed_balances.get(payer, 0)}, chain says {amount}"
        for payer, amount in balances.items()
        if indexed_balances.get(payer, 0) != amount
    ]
    problems += [
        f"payee {payee}: index says {indexed_earnings.get(payee, 0)} withdrawable, chain says {amount}"
        for payee, amount in earned.items()
        if indexed_earnings.get(payee, 0) != amount
    ]
    return problems


def _compare_lanes(db: Database, hub: Hub, token: Address, block: int) -> list[str]:
    """Each lane the index has seen claimed: the hash of its claimed vector is the chain's commitment."""
    problems = []
    with db.read() as conn:
        claimed = [
            (row.payer, row.lane, lane_vector(conn, row.payer, token, row.lane, claimed=True))
            for row in conn.execute(select(lanes).where(lanes.c.token == token, lanes.c.claimed_seq > 0))
        ]
    for payer, lane, vector in claimed:
        expected = entries_hash(vector) if vector else bytes(32)
        if hub.lane_commitment(payer, token, lane, block) != expected:
            problems.append(
                f"lane {lane} of payer {payer}: the index's claimed vector is not the chain's commitment"
            )
    return problems

"""What users and creators read: accounts, lanes, receipts, session keys, earnings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.core import ledger
from app.core.eip712 import Entries
from app.core.receipts import Receipt, SignedVoucher
from app.core.types import Address
from app.store import payments
from app.store.database import Database
from app.store.tables import chain_cursor, earnings, lane_entries


@dataclass(frozen=True)
class AccountView:
    payer: Address
    token: Address
    balance: int
    pending_withdrawal: int
    withdrawal_available_at: int | None
    outstanding: int
    headroom: int


@dataclass(frozen=True)
class LaneView:
    payer: Address
    token: Address
    lane: int
    signer: Address
    accepted: Entries
    claimed: Entries
    accepted_total: int
    claimed_total: int
    blocked: str | None  # why the chain skipped its last claim, until something changes
    updated_at: int


@dataclass(frozen=True)
class SessionKeyView:
    grant: ledger.Grant
    spent: int  # the total of the key's lane as accepted so far


@dataclass(frozen=True)
class EarningsView:
    payee: Address
    token: Address
    accepted: int  # accepted by the server, not yet claimed on chain
    withdrawable: int  # claimed on chain, withdrawable by the payee now
    withdrawn: int


@dataclass(frozen=True)
class IndexedBlock:
    number: int
    hash: bytes
    updated_at: int


class Accounts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def account(self, payer: Address, token: Address) -> AccountView:
        with self._db.read() as conn:
            account = payments.get_account(conn, payer, token) or ledger.Account(0, 0, 0)
            available_at = payments.withdrawal_available_at(conn, payer, token)
        return AccountView(
            payer=payer,
            token=token,
            balance=account.balance,
            pending_withdrawal=account.pending_withdrawal,
            withdrawal_available_at=available_at,
            outstanding=account.outstanding,
            headroom=account.headroom,
        )

    def lanes(self, payer: Address) -> list[LaneView]:
        with self._db.read() as conn:
            return [
                LaneView(
                    payer=row.payer, token=row.token, lane=row.lane, signer=row.signer,
                    accepted=payments.lane_vector(conn, row.payer, row.token, row.lane),
                    claimed=payments.lane_vector(conn, row.payer, row.token, row.lane, claimed=True),
                    accepted_total=row.accepted_total, claimed_total=row.claimed_total,
                    blocked=row.blocked, updated_at=row.updated_at,
                )
                for row in payments.list_lanes(conn, payer)
            ]  # fmt: skip

    def receipts(
        self,
        *,
        payer: Address | None = None,
        payee: Address | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[tuple[int, Receipt]]:
        with self._db.read() as conn:
            return payments.list_receipts(conn, payer=payer, payee=payee, after=after, limit=limit)

    def receipt(self, receipt_id: str) -> Receipt | None:
        with self._db.read() as conn:
            return payments.get_receipt(conn, receipt_id)

    def signed_voucher(self, receipt: Receipt) -> SignedVoucher:
        """The whole voucher a receipt signed."""
        with self._db.read() as conn:
            return payments.signed_voucher(conn, receipt)

    def session_keys(self, payer: Address) -> list[SessionKeyView]:
        with self._db.read() as conn:
            grants = payments.list_grants(conn, payer)
            spent = {(row.token, row.lane): row.accepted_total for row in payments.list_lanes(conn, payer)}
        return [SessionKeyView(g, spent.get((g.grant.token, g.grant.lane), 0)) for g in grants]

    def earnings(self, payee: Address, token: Address) -> EarningsView:
        with self._db.read() as conn:
            row = conn.execute(
                select(earnings).where(earnings.c.payee == payee, earnings.c.token == token)
            ).first()
            accepted = sum(
                max(r.accepted - r.claimed, 0)
                for r in conn.execute(
                    select(lane_entries).where(lane_entries.c.payee == payee, lane_entries.c.token == token)
                )
            )
        return EarningsView(
            payee=payee,
            token=token,
            accepted=accepted,
            withdrawable=row.withdrawable if row else 0,
            withdrawn=row.withdrawn if row else 0,
        )

    def indexed_block(self) -> IndexedBlock | None:
        with self._db.read() as conn:
            row = conn.execute(select(chain_cursor).where(chain_cursor.c.name == "hub")).first()
        return None if row is None else IndexedBlock(row.block_number, row.block_hash, row.updated_at)

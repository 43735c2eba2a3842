"""What users and creators read: accounts, channels, receipts, session keys, earnings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.core import rules
from app.core.receipts import Receipt
from app.core.types import Address
from app.store import payments
from app.store.database import Database
from app.store.tables import chain_cursor, earnings


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
class ChannelView:
    channel_id: bytes
    payer: Address
    payee: Address
    token: Address
    accepted: int
    claimed: int
    updated_at: int


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
            account = payments.get_account(conn, payer, token) or rules.Account(0, 0, 0)
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

    def channels(self, *, payer: Address | None = None, payee: Address | None = None) -> list[ChannelView]:
        with self._db.read() as conn:
            rows = payments.list_channels(conn, payer=payer, payee=payee)
        return [
            ChannelView(
                channel_id=row.channel_id,
                payer=row.payer,
                payee=row.payee,
                token=row.token,
                accepted=row.accepted,
                claimed=row.claimed,
                updated_at=row.updated_at,
            )
            for row in rows
        ]

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

    def session_keys(self, payer: Address) -> list[rules.SessionKey]:
        with self._db.read() as conn:
            return payments.list_session_keys(conn, payer)

    def earnings(self, payee: Address, token: Address) -> EarningsView:
        with self._db.read() as conn:
            row = conn.execute(
                select(earnings).where(earnings.c.payee == payee, earnings.c.token == token)
            ).first()
            channels = payments.list_channels(conn, payee=payee)
        accepted = sum(max(c.accepted - c.claimed, 0) for c in channels if c.token == token)
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

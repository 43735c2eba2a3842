"""Factories for protocol v2 tests: keys, signed vouchers and grants, claim blocks, and accepted
receipts written straight into the store (until the v2 Payments service lands).

    payer = new_key(); voucher, signature = sign_voucher(domain, payer, token, lane=0, entries=...)
    receipt = accept(db, domain, operator, payer, token, payee, price=1_000)
"""

from __future__ import annotations

import os
from dataclasses import replace

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import insert, select

from app.core import ledger
from app.core.claims import ClaimBlock, SignedGrant
from app.core.eip712 import (
    Acknowledgement,
    Domain,
    Entries,
    Entry,
    PayerVoucher,
    SessionGrant,
    digest,
    entries_hash,
)
from app.core.receipts import Receipt, ReceiptStatus, receipt_id
from app.core.types import Address, to_address
from app.store import payments
from app.store.database import Database
from app.store.tables import accounts


def new_key() -> LocalAccount:
    return Account.from_key(os.urandom(32))


def address(key: LocalAccount) -> Address:
    return to_address(key.address)


def sign(key: LocalAccount, message_digest: bytes) -> bytes:
    """A 65-byte r || s || v (v = 27 or 28) signature, as wallets produce."""
    signed = Account.unsafe_sign_hash(message_digest, key.key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def entries(*pairs: tuple[Address, int]) -> Entries:
    return tuple(sorted((Entry(p, a) for p, a in pairs), key=lambda e: ledger.payee_order(e.payee)))


def make_grant(
    domain: Domain, payer: LocalAccount, key: LocalAccount, token: Address, lane: int,
    max_total: int = 10**9, valid_until: int = 2**40,
) -> SignedGrant:  # fmt: skip
    grant = SessionGrant(address(payer), address(key), token, lane, max_total, valid_until)
    return SignedGrant(grant, sign(payer, digest(domain, grant)))


def make_block(
    domain: Domain,
    signer: LocalAccount,
    payer: Address,
    token: Address,
    lane: int,
    vector: Entries,
    previous: Entries = (),
    grant: SignedGrant | None = None,
    acknowledged_by: LocalAccount | None = None,
) -> ClaimBlock:
    """A claim block of `vector` on the lane, signed by `signer` (the payer, or a key with `grant`)."""
    voucher = PayerVoucher(payer, token, lane, vector, os.urandom(32))
    voucher_digest = digest(domain, voucher)
    ack = None
    if acknowledged_by is not None:
        ack = sign(acknowledged_by, digest(domain, Acknowledgement(voucher_digest)))
    return ClaimBlock(voucher, sign(signer, voucher_digest), previous, grant, ack)


def accept(
    db: Database,
    domain: Domain,
    operator: LocalAccount,
    payer: LocalAccount,
    token: Address,
    payee: Address,
    price: int,
    lane: int = 0,
    key: LocalAccount | None = None,
    grant: SignedGrant | None = None,
    now: int = 1_700_000_000,
) -> Receipt:
    """Writes one accepted voucher (payee raised by `price` on the lane) as the v2 Payments service
    will: lane, entries, receipt with the operator's acknowledgement, the payer's outstanding, and
    the grant when a key signs. Checks nothing: tests choose what is in the store."""
    payer_address, signer = address(payer), (key or payer)
    lane_key = (payer_address, token, lane)
    with db.transaction() as conn:
        exists = conn.execute(
            select(accounts.c.payer).where(accounts.c.payer == payer_address, accounts.c.token == token)
        ).first()
        if exists is None:
            empty = {"balance": 0, "withdrawal_amount": 0, "withdrawal_available_at": None, "outstanding": 0}
            conn.execute(insert(accounts).values(payer=payer_address, token=token, **empty))
        if grant is not None:
            payments.save_grant(conn, grant.grant, grant.signature, now)
        group = payments.lock_group(conn, {(payer_address, token)}, {lane_key}, set(), set())
        state = group.lanes[lane_key]
        vector = ledger.raised(state.accepted, payee, price)
        voucher = PayerVoucher(payer_address, token, lane, vector, os.urandom(32))
        voucher_digest = digest(domain, voucher)
        receipt = Receipt(
            id=receipt_id(voucher_digest),
            payer=payer_address,
            token=token,
            lane=lane,
            lane_seq=state.seq + 1,
            payee=payee,
            price=price,
            cumulative_amount=ledger.amounts(vector)[payee],
            purchase=voucher.purchase,
            entries_hash=entries_hash(vector),
            signature=sign(signer, voucher_digest),
            acknowledgement=sign(operator, digest(domain, Acknowledgement(voucher_digest))),
            signer=address(signer),
            resource_id="article",
            status=ReceiptStatus.ACCEPTED,
            created_at=now,
        )
        state.signer = address(signer)
        state.seq += 1
        state.accepted = vector
        state.accepted_total += price
        state.latest = receipt
        state.changed.add(payee)
        if state.oldest_unclaimed_at is None:
            state.oldest_unclaimed_at = now
        account = group.accounts[(payer_address, token)]
        group.accounts[(payer_address, token)] = replace(account, outstanding=account.outstanding + price)
        group.touched_accounts.add((payer_address, token))
        group.new_receipts.append(receipt)
        payments.write_group(conn, group, now)
    return receipt

"""Accepting v2 vouchers, against a real SQLite store and real signatures, without a chain: the
account rows a deposit would leave are written directly, the chain's clock is the store's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import insert, update

from app.core import ledger
from app.core.eip712 import Acknowledgement, Domain, PayerVoucher, SessionGrant, digest
from app.core.errors import (
    BadSignature,
    CumulativeMismatch,
    InsufficientFunds,
    SignerCapExceeded,
    SignerNotAuthorized,
)
from app.core.signatures import recover, sign
from app.core.types import to_address
from app.services.catalog import Catalog
from app.services.events import MemoryBus
from app.services.payments import Payments, PayRequest
from app.services.session_keys import SessionKeys
from app.store import payments as store
from app.store.database import Database
from app.store.tables import accounts, chain_cursor, revocations, tokens

TOKEN = to_address("0x" + "c0" * 20)
DOMAIN = Domain(chain_id=31337, hub=to_address("0x" + "ab" * 20))
OPERATOR = Account.from_key(b"\x42" * 32)
NOW = 1_700_000_000


class Shop:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = lambda: NOW
        self.payments = Payments(
            db,
            DOMAIN,
            self.clock,
            MemoryBus(),
            settle_margin=600,
            acknowledge=lambda d: sign(d, OPERATOR.key),
        )
        self.keys = SessionKeys(db, DOMAIN, self.clock, settle_margin=600)
        self.catalog = Catalog(db, self.clock)
        self.creators = [to_address(Account.create().address) for _ in range(3)]
        with db.transaction() as conn:
            conn.execute(
                insert(tokens).values(address=TOKEN, symbol="USDC", name="USD Coin", decimals=6, allowed=True)
            )
            conn.execute(
                insert(chain_cursor).values(
                    name="hub", block_number=1, block_hash=b"\x00" * 32, updated_at=NOW, head_timestamp=NOW
                )
            )
        for index, creator in enumerate(self.creators):
            self.catalog.save(creator, f"article-{index}", TOKEN, 10_000 * (index + 1), f"Article {index}")

    def deposit(self, payer: LocalAccount, amount: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                insert(accounts).values(
                    payer=payer.address, token=TOKEN, balance=amount, withdrawal_amount=0,
                    withdrawal_available_at=None, outstanding=0,
                )
            )  # fmt: skip

    def grant(
        self, payer: LocalAccount, key: LocalAccount, lane: int, max_total: int = 10**9, valid_until: int = 0
    ) -> None:
        grant = SessionGrant(
            to_address(payer.address),
            to_address(key.address),
            TOKEN,
            lane,
            max_total,
            valid_until or NOW + 86_400,
        )
        self.keys.authorize(grant, sign(digest(DOMAIN, grant), payer.key))

    def request(
        self, payer: LocalAccount, resource: int, lane: int = 0, signer: LocalAccount | None = None,
        entries: tuple[ledger.Entry, ...] | None = None,
    ) -> PayRequest:  # fmt: skip
        with self.db.read() as conn:
            previous = store.lane_vector(conn, to_address(payer.address), TOKEN, lane)
        price = 10_000 * (resource + 1)
        entries = entries or ledger.raised(previous, self.creators[resource], price)
        voucher = PayerVoucher(to_address(payer.address), TOKEN, lane, entries, os.urandom(32))
        signature = sign(digest(DOMAIN, voucher), (signer or payer).key)
        return PayRequest(voucher, signature, f"article-{resource}")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    db = Database(f"sqlite:///{tmp_path / 'shop.db'}")
    db.migrate()
    shop = Shop(db)
    yield shop
    shop.payments.close()
    db.dispose()


def test_an_accepted_voucher_comes_back_with_the_operators_acknowledgement(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    request = shop.request(reader, 0)
    receipt = shop.payments.pay(request)
    voucher_digest = digest(DOMAIN, request.voucher)
    assert (
        recover(digest(DOMAIN, Acknowledgement(voucher_digest)), receipt.acknowledgement) == OPERATOR.address
    )
    assert (receipt.lane_seq, receipt.price, receipt.cumulative_amount) == (1, 10_000, 10_000)


def test_one_lane_pays_several_creators_and_each_receipt_stores_one_step(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    for resource in (0, 1, 0, 2):
        shop.payments.pay(shop.request(reader, resource))
    last = shop.payments.pay(shop.request(reader, 1))
    assert (last.lane_seq, last.cumulative_amount) == (5, 40_000)


def test_the_same_voucher_twice_is_one_receipt_charged_once(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    request = shop.request(reader, 0)
    assert shop.payments.pay(request) == shop.payments.pay(request)
    assert shop.payments.pay(shop.request(reader, 0)).cumulative_amount == 20_000


def test_a_voucher_built_on_a_stale_vector_is_refused_with_the_latest(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    stale = shop.request(reader, 0)
    shop.payments.pay(shop.request(reader, 0))
    with pytest.raises(CumulativeMismatch) as refused:
        shop.payments.pay(stale)
    assert refused.value.fields["latest"].voucher.entries[0].cumulative_amount == 10_000


def test_a_price_above_the_headroom_is_refused(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 15_000)
    shop.payments.pay(shop.request(reader, 0))
    with pytest.raises(InsufficientFunds):
        shop.payments.pay(shop.request(reader, 0))


def test_a_signature_with_v_0_is_refused_as_the_hub_would(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    request = shop.request(reader, 0)
    low_v = request.signature[:64] + bytes([request.signature[64] - 27])
    with pytest.raises(BadSignature):
        shop.payments.pay(PayRequest(request.voucher, low_v, request.resource_id))


def test_a_session_key_pays_on_its_own_lane_as_soon_as_its_grant_is_saved(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    shop.grant(reader, key, lane=1)
    receipt = shop.payments.pay(shop.request(reader, 0, lane=1, signer=key))
    assert receipt.signer == key.address


def test_a_session_key_may_not_sign_on_the_wallets_lane(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    shop.grant(reader, key, lane=1)
    shop.payments.pay(shop.request(reader, 0, lane=0))
    with pytest.raises((BadSignature, SignerNotAuthorized)):
        shop.payments.pay(shop.request(reader, 0, lane=0, signer=key))


def test_a_key_revoked_on_chain_is_refused_before_the_revocation_takes_effect(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    shop.grant(reader, key, lane=1)
    with shop.db.transaction() as conn:
        conn.execute(
            insert(revocations).values(payer=reader.address, signer=key.address, effective_at=NOW + 300)
        )
    with pytest.raises(SignerNotAuthorized):
        shop.payments.pay(shop.request(reader, 0, lane=1, signer=key))


def test_the_key_cap_is_the_lanes_total(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    shop.grant(reader, key, lane=1, max_total=25_000)
    shop.payments.pay(shop.request(reader, 0, lane=1, signer=key))
    with pytest.raises(SignerCapExceeded):
        shop.payments.pay(shop.request(reader, 1, lane=1, signer=key))


def test_unknown_key_addresses_are_bad_signatures(shop: Shop) -> None:
    reader, stranger = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    with pytest.raises(BadSignature):
        shop.payments.pay(shop.request(reader, 0, signer=stranger))


@pytest.mark.parametrize(("seconds_left", "accepted"), [(601, True), (600, True), (599, False)])
def test_a_key_is_refused_by_the_chains_clock_when_it_runs_ahead_of_ours(
    shop: Shop, seconds_left: int, accepted: bool
) -> None:
    """Blocks about 400 s ahead of the wall clock (an L2 sequencer's drift): the key's expiry is
    compared with the chain's time plus the settle margin (600 s), never with the server's clock."""
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    shop.grant(reader, key, lane=1, valid_until=NOW + 1_000)
    with shop.db.transaction() as conn:
        conn.execute(update(chain_cursor).values(head_timestamp=NOW + 1_000 - seconds_left))
    request = shop.request(reader, 0, lane=1, signer=key)
    if accepted:
        assert shop.payments.pay(request).signer == key.address
    else:
        with pytest.raises(SignerNotAuthorized):
            shop.payments.pay(request)

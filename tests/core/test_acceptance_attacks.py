"""Attacks on the server's acceptance (app/services/payments.py, session_keys.py, app/core/ledger.py),
each held against what the hub will do with the acknowledged voucher (`ledger.claim_outcome`). Tests
marked FINDING fail on purpose: they show a way to get a voucher acknowledged that the chain will not pay
(or the reverse), and pass once it is closed. The others pin attacks that are defended.

Real SQLite store and signatures, no chain, as in tests/services/test_acceptance.py (whose `Shop` this
reuses; it lives here because tests/services/conftest.py does not import on this branch)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import insert, update

from app.core import ledger
from app.core.claims import FLAG_ACKNOWLEDGEMENT, ClaimBlock, encode_claim
from app.core.eip712 import Acknowledgement, PayerVoucher, SessionGrant, digest
from app.core.errors import (
    BadSignature,
    InsufficientFunds,
    InvalidInput,
    Refusal,
    SignerNotAuthorized,
)
from app.core.receipts import Receipt
from app.core.signatures import sign
from app.core.types import UINT128_MAX, to_address
from app.services.payments import PayRequest
from app.store import payments as store
from app.store.database import Database
from app.store.tables import accounts, authorized_signers, chain_cursor, revocations
from tests.factories import to_compact, to_high_s
from tests.services.test_acceptance import DOMAIN, NOW, OPERATOR, TOKEN, Shop

MARGIN = 600  # Shop's settle margin


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    db = Database(f"sqlite:///{tmp_path / 'shop.db'}")
    db.migrate()
    shop = Shop(db)
    yield shop
    shop.payments.close()
    db.dispose()


def authorize(
    shop: Shop,
    payer: LocalAccount,
    key: LocalAccount,
    lane: int,
    max_total: int = 10**9,
    valid_until: int = NOW + 86_400,
) -> SessionGrant:
    grant = SessionGrant(
        to_address(payer.address), to_address(key.address), TOKEN, lane, max_total, valid_until
    )
    shop.keys.authorize(grant, sign(digest(DOMAIN, grant), payer.key))
    return grant


def stored_grant(shop: Shop, payer: LocalAccount, key: LocalAccount, lane: int) -> ledger.Grant:
    wanted = (to_address(payer.address), to_address(key.address), TOKEN, lane)
    with shop.db.read() as conn:
        return store.find_grants(conn, [wanted])[wanted]


def chain_pays(voucher: PayerVoucher, grant: SessionGrant | None, now: int, balance: int = 10**12) -> object:
    """What the hub does with the acknowledged voucher claimed on an empty lane at `now` (None: pays)."""
    block = ledger.BlockFacts(
        previous=(),
        voucher=voucher,
        acknowledged=True,
        payer_signed=grant is None,
        grant=grant,
        grant_valid=grant is not None,
    )
    return ledger.claim_outcome(block, ledger.ChainLane(claimed=(), balance=balance, revoked_at=0, now=now))


# ================================================================ FINDINGS (these fail)


def test_finding_re_authorizing_a_key_does_not_strand_what_it_already_signed(shop: Shop) -> None:
    """FINDING (high). `authorize` replaces the stored grant of (payer, key, token, lane) with any newer
    one the payer signs (store.save_grant deletes the old row), and receipts do not keep the grant they
    were accepted under. A payer lets its key spend 10,000 (acknowledged), then signs the same key's
    grant again with maxTotal = 1: the only grant the server still holds makes the acknowledged vector
    CapExceeded on chain (a final skip), and the payer withdraws the 10,000 after the delay. Shortening
    validUntil to the margin works the same way against a settler that is a little late."""
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    authorize(shop, reader, key, lane=1)
    request = shop.request(reader, 0, lane=1, signer=key)
    shop.payments.pay(request)

    with contextlib.suppress(Refusal):  # refusing the downgrade is one fix
        authorize(shop, reader, key, lane=1, max_total=1)
    grant = stored_grant(shop, reader, key, lane=1).grant

    assert chain_pays(request.voucher, grant, now=NOW + 60) is None


def test_a_smart_wallet_pays_through_the_key_it_authorised_on_chain(shop: Shop) -> None:
    """A smart wallet's EIP-1271 answer could change after the server acknowledged (the attack review's
    first finding), so neither side uses it: the wallet names an ECDSA key on chain (authorizeSigner),
    and that key signs with the wallet's authority until a revocation the server sees."""
    owner = Account.create()
    wallet = to_address("0x" + "77" * 20)
    with shop.db.transaction() as conn:
        conn.execute(
            insert(accounts).values(
                payer=wallet, token=TOKEN, balance=1_000_000, withdrawal_amount=0,
                withdrawal_available_at=None, outstanding=0,
            )
        )  # fmt: skip
        conn.execute(insert(authorized_signers).values(payer=wallet, signer=owner.address, authorized_at=NOW))
    voucher = PayerVoucher(wallet, TOKEN, 0, ledger.raised((), shop.creators[0], 10_000), bytes(32))
    receipt = shop.payments.pay(PayRequest(voucher, sign(digest(DOMAIN, voucher), owner.key), "article-0"))
    assert (receipt.payer, receipt.signer) == (wallet, owner.address)

    with shop.db.transaction() as conn:
        conn.execute(insert(revocations).values(payer=wallet, signer=owner.address, effective_at=NOW + 3_600))
    again = PayerVoucher(
        wallet, TOKEN, 0, ledger.raised(voucher.entries, shop.creators[0], 10_000), bytes(32)
    )
    with pytest.raises(Refusal):
        shop.payments.pay(PayRequest(again, sign(digest(DOMAIN, again), owner.key), "article-0"))


def test_finding_a_lane_keeps_one_signer_within_one_batch(shop: Shop) -> None:
    """FINDING (low). The rule "a lane belongs to one signer" (`_accept`) is skipped while the lane's first
    voucher is still in the same group (`LaneState.exists` stays False), so one payBatch puts the wallet
    and a key (or two keys) on one fresh lane. No loss was shown (the cap is on the vector's sum on both
    sides), but the invariant the key caps and the settler's lane ownership rely on is broken."""
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    authorize(shop, reader, key, lane=5)
    by_wallet = shop.request(reader, 0, lane=5)
    then = ledger.raised(by_wallet.voucher.entries, shop.creators[1], 20_000)
    by_key = shop.request(reader, 1, lane=5, signer=key, entries=then)

    results = shop.payments.pay_batch([by_wallet, by_key])

    assert isinstance(results[0], Receipt)
    assert isinstance(results[1], SignerNotAuthorized), results[1]


def test_finding_a_stale_chain_head_does_not_stretch_a_keys_deadline(shop: Shop) -> None:
    """FINDING (medium). The server's chain time is the newest block the indexer has seen, and nothing
    bounds how old it is. With the indexer an hour behind (node outage, reorg loop), a grant that expires
    in 100 s of real (chain) time is accepted and used: the voucher has less than SETTLE_MARGIN to be
    claimed, and after that the hub skips it as SignerExpired. Using max(head time, wall clock), or
    refusing key vouchers while the head is older than a bound, keeps the margin."""
    with shop.db.transaction() as conn:
        conn.execute(update(chain_cursor).values(head_timestamp=NOW - 3_600))
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    accepted = True
    try:
        authorize(shop, reader, key, lane=1, valid_until=NOW + 100)
        shop.payments.pay(shop.request(reader, 0, lane=1, signer=key))
    except Refusal:
        accepted = False
    assert not accepted, "a key with 100 s left (margin 600 s) was accepted on a stale chain head"


# ================================================================ signatures in other encodings


def test_the_compact_form_of_an_accepted_voucher_is_the_same_receipt_charged_once(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    request = shop.request(reader, 0)
    first = shop.payments.pay(request)
    again = shop.payments.pay(replace(request, signature=to_compact(request.signature)))
    assert again.id == first.id
    assert shop.payments.pay(shop.request(reader, 0)).cumulative_amount == 20_000


def test_a_high_s_or_odd_length_signature_is_refused(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    request = shop.request(reader, 0)
    for bad in (to_high_s(request.signature), request.signature + b"\x00", request.signature[:63], b""):
        with pytest.raises(BadSignature):
            shop.payments.pay(replace(request, signature=bad))


def test_a_high_s_grant_is_refused_as_the_hub_would(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    grant = SessionGrant(to_address(reader.address), to_address(key.address), TOKEN, 1, 10**9, NOW + 86_400)
    with pytest.raises(BadSignature):
        shop.keys.authorize(grant, to_high_s(sign(digest(DOMAIN, grant), reader.key)))


# ================================================================ keys and grants


def test_a_key_cannot_sign_outside_its_grants_lane_or_for_another_payer(shop: Shop) -> None:
    reader, victim, key = Account.create(), Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    shop.deposit(victim, 1_000_000)
    authorize(shop, reader, key, lane=1)
    with pytest.raises((BadSignature, SignerNotAuthorized)):
        shop.payments.pay(shop.request(reader, 0, lane=2, signer=key))
    with pytest.raises((BadSignature, SignerNotAuthorized)):
        shop.payments.pay(shop.request(victim, 0, lane=1, signer=key))


def test_a_grant_the_hub_could_not_carry_is_refused(shop: Shop) -> None:
    """maxTotal travels in 16 bytes and validUntil in 8: a grant above them would be GrantInvalid."""
    reader, key = Account.create(), Account.create()
    for max_total, valid_until, lane in (
        (UINT128_MAX + 1, NOW + 86_400, 1),
        (1, 2**64, 1),
        (1, NOW + 86_400, 2**64),
    ):
        grant = SessionGrant(
            to_address(reader.address), to_address(key.address), TOKEN, lane, max_total, valid_until
        )
        with pytest.raises(InvalidInput):
            shop.keys.authorize(grant, sign(digest(DOMAIN, grant), reader.key))


def test_a_key_expiring_exactly_at_the_margin_is_accepted_and_the_hub_pays_it_then(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    authorize(shop, reader, key, lane=1, valid_until=NOW + MARGIN)
    request = shop.request(reader, 0, lane=1, signer=key)
    shop.payments.pay(request)
    grant = stored_grant(shop, reader, key, lane=1).grant
    assert chain_pays(request.voucher, grant, now=NOW + MARGIN) is None
    assert chain_pays(request.voucher, grant, now=NOW + MARGIN + 1) == ledger.SkipReason.SIGNER_EXPIRED


def test_a_key_expiring_one_second_inside_the_margin_is_refused(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    authorize(shop, reader, key, lane=1)
    grant = stored_grant(shop, reader, key, lane=1)
    request = shop.request(reader, 0, lane=1, signer=key)
    short = replace(grant, grant=replace(grant.grant, valid_until=NOW + MARGIN - 1))
    with pytest.raises(SignerNotAuthorized):
        ledger.check_grant_usable(short, request.voucher, NOW, MARGIN)


def test_a_revocation_within_the_margin_is_refused(shop: Shop) -> None:
    """The hub refuses from revokedAt on (`>=`): a revocation taking effect within SETTLE_MARGIN of the
    chain's time must be refused (v2 goes further and refuses any revoked key)."""
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    authorize(shop, reader, key, lane=1)
    request = shop.request(reader, 0, lane=1, signer=key)
    grant = stored_grant(shop, reader, key, lane=1)
    for revoked_at in (NOW + MARGIN, NOW + 1, NOW):
        with pytest.raises(SignerNotAuthorized):
            ledger.check_grant_usable(replace(grant, revoked_at=revoked_at), request.voucher, NOW, MARGIN)
    with shop.db.transaction() as conn:
        conn.execute(
            insert(revocations).values(payer=reader.address, signer=key.address, effective_at=NOW + MARGIN)
        )
    with pytest.raises(SignerNotAuthorized):
        shop.payments.pay(request)


# ================================================================ headroom


def test_a_pending_withdrawal_is_not_headroom(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 100_000)
    with shop.db.transaction() as conn:
        conn.execute(
            update(accounts).where(accounts.c.payer == reader.address).values(withdrawal_amount=95_000)
        )
    with pytest.raises(InsufficientFunds):
        shop.payments.pay(shop.request(reader, 0))


def test_headroom_is_shared_by_every_lane_and_key_of_the_payer(shop: Shop) -> None:
    reader, key = Account.create(), Account.create()
    shop.deposit(reader, 25_000)
    authorize(shop, reader, key, lane=7)
    shop.payments.pay(shop.request(reader, 0, lane=0))  # 10,000 from the wallet
    shop.payments.pay(shop.request(reader, 0, lane=7, signer=key))  # 10,000 from the key
    with pytest.raises(InsufficientFunds):
        shop.payments.pay(shop.request(reader, 0, lane=3))  # a third lane: 5,000 left


def test_a_voucher_that_pays_a_second_payee_too_is_refused(shop: Shop) -> None:
    """A payer cannot slip a payment to its second address into a voucher for an article."""
    reader, second = Account.create(), Account.create()
    shop.deposit(reader, 1_000_000)
    entries = ledger.raised(ledger.raised((), shop.creators[0], 10_000), to_address(second.address), 900_000)
    with pytest.raises(Refusal):
        shop.payments.pay(shop.request(reader, 0, entries=entries))


# ================================================================ more findings (these fail)


def test_finding_the_same_voucher_offered_for_another_resource_is_refused(shop: Shop) -> None:
    """FINDING (low). The same voucher again returns its receipt (idempotency by digest), whatever
    resource it is offered for now. A client that buys article A, then sends that same voucher for
    article B of the same creator, gets a receipt back without an error and without paying again; only
    its `resource_id` (A) tells them apart, so a shop that unlocks on "pay succeeded" gives B for free.
    `purchase` does not help: the server never checks what it binds."""
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    shop.catalog.save(shop.creators[0], "article-0-bis", TOKEN, 10_000, "Another article, same creator")
    request = shop.request(reader, 0)
    shop.payments.pay(request)
    with pytest.raises(Refusal):
        shop.payments.pay(replace(request, resource_id="article-0-bis"))


def test_finding_an_empty_acknowledgement_is_encoded_with_its_flag() -> None:
    """FINDING (info). app/core/claims.py sets the acknowledgement flag when the acknowledgement is
    truthy but writes its length prefix when it is not None: b"" gives two stray bytes the hub reads as
    the entry count and the first entry (the block, and every later one, misparses or reverts)."""
    creator = to_address("0x" + "11" * 20)
    voucher = PayerVoucher(to_address("0x" + "22" * 20), TOKEN, 0, (ledger.Entry(creator, 5),), bytes(32))
    data = encode_claim([ClaimBlock(voucher=voucher, signature=bytes(65), acknowledgement=b"")])
    flags = data[1 + 20 + 60]
    assert flags & FLAG_ACKNOWLEDGEMENT, "two length bytes were written without the flag that announces them"


def test_finding_a_grant_on_a_lane_the_store_cannot_hold_is_a_refusal(shop: Shop) -> None:
    """FINDING (info). check_grant_shape takes lanes up to 2^64 - 1, the store's columns hold 2^63 - 1:
    a grant on lane 2^63 ends in OverflowError (a 500), where payments.py refuses such a lane cleanly."""
    reader, key = Account.create(), Account.create()
    with pytest.raises(Refusal):
        authorize(shop, reader, key, lane=2**63)


# ================================================================ acknowledgements never leak


def test_a_refused_voucher_never_carries_its_acknowledgement(shop: Shop) -> None:
    """_verify signs the acknowledgement before the rules are applied (outside the lock): a refusal
    must not carry it, or a payer would have an acknowledged voucher the server never counted."""
    reader, second = Account.create(), Account.create()
    second_ = to_address(second.address)
    shop.deposit(reader, 15_000)
    shop.payments.pay(shop.request(reader, 0))
    attempts = [
        shop.request(reader, 0),  # above the headroom
        # the article's creator plus the payer's second address: not the lane's last vector + price
        shop.request(
            reader, 0, entries=ledger.raised(ledger.raised((), shop.creators[0], 20_000), second_, 1)
        ),
    ]
    for request in attempts:
        voucher_digest = digest(DOMAIN, request.voucher)
        acknowledgement = sign(digest(DOMAIN, Acknowledgement(voucher_digest)), OPERATOR.key)
        with pytest.raises(Refusal) as refused:
            shop.payments.pay(request)
        shown = repr(refused.value.fields) + refused.value.message
        assert acknowledgement.hex() not in shown
        assert repr(acknowledgement) not in shown

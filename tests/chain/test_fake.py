"""The in-memory hub keeps the contract's claim rules (by app.core.ledger) and its events."""

from __future__ import annotations

import pytest

from app.chain.fake import FakeHub
from app.chain.operator import Reverted
from app.core import events as ev
from app.core.claims import SignedGrant, encode_claim
from app.core.eip712 import SessionGrant, digest, entries_hash
from app.core.ledger import SkipReason
from app.core.types import to_address
from tests.builders import address, entries, make_block, make_grant, new_key, sign

TOKEN = to_address("0x" + "33" * 20)
A, B = to_address("0x" + "aa" * 20), to_address("0x" + "bb" * 20)
OPERATOR = new_key()


@pytest.fixture
def hub() -> FakeHub:
    fake = FakeHub(operator=address(OPERATOR))
    fake.allow_token(TOKEN)
    return fake


def test_an_operator_claim_pays_each_payee_and_moves_the_lane(hub: FakeHub) -> None:
    payer = new_key()
    hub.deposit(address(payer), TOKEN, 1_000)
    vector = entries((A, 100), (B, 50))
    block = make_block(hub.domain, payer, address(payer), TOKEN, 3, vector)
    claimed, earned_a, earned_b = hub.claim(hub.operator(), TOKEN, encode_claim([block]))
    assert isinstance(claimed, ev.VoucherClaimed)
    assert (claimed.lane, claimed.amount, claimed.entries_hash) == (3, 150, entries_hash(vector))
    assert (earned_a.payee, earned_a.amount) == (A, 100)  # type: ignore[union-attr]
    assert (earned_b.payee, earned_b.amount) == (B, 50)  # type: ignore[union-attr]
    assert hub.balance_of(address(payer), TOKEN) == 850
    assert hub.lane_commitment(address(payer), TOKEN, 3) == entries_hash(vector)
    assert hub.events(hub.head(), hub.head())[0] == claimed


def test_a_stale_previous_is_skipped_and_changes_nothing(hub: FakeHub) -> None:
    payer = new_key()
    hub.deposit(address(payer), TOKEN, 1_000)
    first = make_block(hub.domain, payer, address(payer), TOKEN, 0, entries((A, 100)))
    hub.claim(hub.operator(), TOKEN, encode_claim([first]))
    stale = make_block(hub.domain, payer, address(payer), TOKEN, 0, entries((A, 200)))
    (skipped,) = hub.claim(hub.operator(), TOKEN, encode_claim([stale]))
    assert isinstance(skipped, ev.VoucherSkipped)
    assert skipped.reason is SkipReason.PREVIOUS_MISMATCH
    assert hub.balance_of(address(payer), TOKEN) == 900


def test_anyone_may_claim_with_the_operators_acknowledgement(hub: FakeHub) -> None:
    payer, stranger = new_key(), new_key()
    hub.deposit(address(payer), TOKEN, 1_000)
    bare = make_block(hub.domain, payer, address(payer), TOKEN, 0, entries((A, 100)))
    (skipped,) = hub.claim(address(stranger), TOKEN, encode_claim([bare]))
    assert skipped.reason is SkipReason.NOT_ACKNOWLEDGED  # type: ignore[union-attr]
    acked = make_block(
        hub.domain, payer, address(payer), TOKEN, 0, entries((A, 100)), acknowledged_by=OPERATOR
    )
    assert isinstance(hub.claim(address(stranger), TOKEN, encode_claim([acked]))[0], ev.VoucherClaimed)


def test_a_keys_voucher_pays_until_its_revocation_takes_effect(hub: FakeHub) -> None:
    payer, key = new_key(), new_key()
    hub.deposit(address(payer), TOKEN, 1_000)
    grant = make_grant(hub.domain, payer, key, TOKEN, 1)
    first = make_block(hub.domain, key, address(payer), TOKEN, 1, entries((A, 10)), grant=grant)
    claimed = hub.claim(hub.operator(), TOKEN, encode_claim([first]))[0]
    assert isinstance(claimed, ev.VoucherClaimed)
    assert claimed.signer == address(key)
    hub.revoke_signer(address(payer), address(key))
    hub.advance(hub.withdraw_delay() + 10)
    later = make_block(
        hub.domain, key, address(payer), TOKEN, 1, entries((A, 20)), previous=entries((A, 10)), grant=grant
    )
    (skipped,) = hub.claim(hub.operator(), TOKEN, encode_claim([later]))
    assert skipped.reason is SkipReason.SIGNER_REVOKED  # type: ignore[union-attr]


def test_a_block_above_the_balance_pays_nothing_and_the_next_block_still_pays(hub: FakeHub) -> None:
    rich, poor = new_key(), new_key()
    hub.deposit(address(rich), TOKEN, 1_000)
    hub.deposit(address(poor), TOKEN, 10)
    blocks = [
        make_block(hub.domain, poor, address(poor), TOKEN, 0, entries((A, 11))),
        make_block(hub.domain, rich, address(rich), TOKEN, 0, entries((A, 7))),
    ]
    skipped, claimed, earned = hub.claim(hub.operator(), TOKEN, encode_claim(blocks))
    assert skipped.reason is SkipReason.INSUFFICIENT_BALANCE  # type: ignore[union-attr]
    assert isinstance(claimed, ev.VoucherClaimed)
    assert (earned.payee, earned.amount) == (A, 7)  # type: ignore[union-attr]


def test_a_withdrawal_pays_after_the_delay(hub: FakeHub) -> None:
    payer = address(new_key())
    hub.deposit(payer, TOKEN, 1_000)
    available_at = hub.request_withdrawal(payer, TOKEN, 400)
    assert hub.withdrawal_of(payer, TOKEN) == (400, available_at)
    with pytest.raises(Reverted):
        hub.withdraw(payer, TOKEN)
    hub.advance(hub.withdraw_delay())
    assert hub.withdraw(payer, TOKEN) == 400
    assert hub.balance_of(payer, TOKEN) == 600


def test_a_fee_goes_to_its_recipient(hub: FakeHub) -> None:
    payer, recipient = new_key(), to_address("0x" + "fe" * 20)
    hub.set_fee(100, recipient)
    hub.deposit(address(payer), TOKEN, 1_000)
    block = make_block(hub.domain, payer, address(payer), TOKEN, 0, entries((A, 1_000)))
    hub.claim(hub.operator(), TOKEN, encode_claim([block]))
    assert (hub.earnings_of(A, TOKEN), hub.earnings_of(recipient, TOKEN)) == (990, 10)


def test_a_key_the_payer_authorized_signs_vouchers_and_grants_until_its_revocation(hub: FakeHub) -> None:
    wallet, owner, session = address(new_key()), new_key(), new_key()
    hub.deposit(wallet, TOKEN, 1_000)
    hub.authorize_signer(wallet, address(owner))
    (authorized,) = hub.events(hub.head(), hub.head())
    assert authorized == ev.SignerAuthorized(authorized.at, wallet, address(owner))
    assert hub.is_authorized_signer(wallet, address(owner))
    grant = SessionGrant(wallet, address(session), TOKEN, 1, 10**9, 2**40)
    signed_grant = SignedGrant(grant, sign(owner, digest(hub.domain, grant)))
    blocks = [
        make_block(hub.domain, owner, wallet, TOKEN, 0, entries((A, 10))),
        make_block(hub.domain, session, wallet, TOKEN, 1, entries((A, 5)), grant=signed_grant),
    ]
    by_owner, by_session, _ = hub.claim(hub.operator(), TOKEN, encode_claim(blocks))
    assert (by_owner.signer, by_session.signer) == (address(owner), address(session))  # type: ignore[union-attr]

    hub.revoke_signer(wallet, address(owner))
    hub.advance(hub.withdraw_delay() + 10)
    assert not hub.is_authorized_signer(wallet, address(owner))
    later = [
        make_block(hub.domain, owner, wallet, TOKEN, 0, entries((A, 20)), previous=entries((A, 10))),
        make_block(
            hub.domain,
            session,
            wallet,
            TOKEN,
            1,
            entries((A, 6)),
            previous=entries((A, 5)),
            grant=signed_grant,
        ),
    ]
    reasons = [e.reason for e in hub.claim(hub.operator(), TOKEN, encode_claim(later))]  # type: ignore[union-attr]
    assert reasons == [SkipReason.SIGNER_REVOKED, SkipReason.GRANT_INVALID]
    with pytest.raises(Reverted, match="SignerAlreadyRevoked"):
        hub.authorize_signer(wallet, address(owner))


def test_a_wallets_owner_key_pays_nothing_until_the_wallet_authorizes_it(hub: FakeHub) -> None:
    wallet, owner = address(new_key()), new_key()
    hub.deposit(wallet, TOKEN, 1_000)
    block = make_block(hub.domain, owner, wallet, TOKEN, 0, entries((A, 10)))
    (skipped,) = hub.claim(hub.operator(), TOKEN, encode_claim([block]))
    assert skipped.reason is SkipReason.BAD_SIGNATURE  # type: ignore[union-attr]
    with pytest.raises(Reverted, match="InvalidSigner"):
        hub.authorize_signer(wallet, to_address("0x" + "00" * 20))

"""The hub and app/core/eip712.py hash the same values to the same digests; a wallet signing the typed data
app/core gives produces a signature the hub accepts; one golden vector pins the bytes."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from app.core.claims import ClaimBlock, SignedGrant
from app.core.eip712 import (
    ACKNOWLEDGEMENT_TYPEHASH,
    ENTRY_TYPEHASH,
    PAYER_VOUCHER_TYPEHASH,
    SESSION_GRANT_TYPEHASH,
    Acknowledgement,
    Domain,
    Entry,
    PayerVoucher,
    SessionGrant,
    digest,
    entries_hash,
    typed_data,
)
from app.core.types import to_address
from tests.contracts.lanes import claimed, claimed_event, make_grant, make_voucher
from tests.factories import Chain, new_key

GOLDEN_KEY = "0x" + "11" * 32
GOLDEN_DOMAIN = Domain(chain_id=31337, hub=to_address("0x5FbDB2315678afecb367f032d93F642f64180aa3"))
GOLDEN_VOUCHER = PayerVoucher(
    payer=to_address("0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"),  # GOLDEN_KEY's address
    token=to_address("0x" + "33" * 20),
    lane=7,
    entries=(Entry(to_address("0x" + "0a" * 20), 1_000), Entry(to_address("0x" + "0b" * 20), 250_000)),
    purchase=bytes(range(32)),
)


def voucher_tuple(voucher: PayerVoucher) -> tuple[object, ...]:
    entries = [(e.payee, e.cumulative_amount) for e in voucher.entries]
    return (voucher.payer, voucher.token, voucher.lane, entries, voucher.purchase)


def grant_tuple(grant: SessionGrant) -> tuple[object, ...]:
    return (grant.payer, grant.signer, grant.token, grant.lane, grant.max_total, grant.valid_until)


def test_type_hashes_match(chain: Chain) -> None:
    hub = chain.hub.functions
    assert bytes(hub.ENTRY_TYPEHASH().call()) == ENTRY_TYPEHASH
    assert bytes(hub.PAYER_VOUCHER_TYPEHASH().call()) == PAYER_VOUCHER_TYPEHASH
    assert bytes(hub.SESSION_GRANT_TYPEHASH().call()) == SESSION_GRANT_TYPEHASH
    assert bytes(hub.ACKNOWLEDGEMENT_TYPEHASH().call()) == ACKNOWLEDGEMENT_TYPEHASH
    assert hub.MAX_LANE_ENTRIES().call() == 32


def test_the_domain_separator_matches(chain: Chain) -> None:
    assert bytes(chain.hub.functions.DOMAIN_SEPARATOR().call()) == chain.domain.separator


def test_every_digest_matches_for_the_same_values(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    voucher = make_voucher(
        chain, payer.address, {new_key().address: 2**128 - 1, new_key().address: 1}, lane=2**64 - 1
    )
    grant = make_grant(chain, payer, key.address, max_total=2**128 - 1, valid_until=2**64 - 1, lane=5).grant
    voucher_digest = digest(chain.domain, voucher)
    hub = chain.hub.functions

    assert bytes(hub.payerVoucherDigest(voucher_tuple(voucher)).call()) == voucher_digest
    assert bytes(hub.sessionGrantDigest(grant_tuple(grant)).call()) == digest(chain.domain, grant)
    assert bytes(hub.acknowledgementDigest(voucher_digest).call()) == digest(
        chain.domain, Acknowledgement(voucher_digest)
    )
    entries = [(e.payee, e.cumulative_amount) for e in voucher.entries]
    assert bytes(hub.entriesHash(entries).call()) == entries_hash(voucher.entries)


def test_a_wallet_signing_the_typed_data_is_accepted_by_the_hub(chain: Chain) -> None:
    payer, key = chain.accounts[1], new_key()
    chain.deposit(payer, 1_000_000)
    shop = new_key().address
    voucher = make_voucher(chain, payer.address, {shop: 1_234})
    grant = make_grant(chain, payer, key.address, max_total=10_000).grant

    # What a wallet does with eth_signTypedData_v4: it sees only the JSON, never our digest code.
    voucher_signature = Account.sign_typed_data(key.key, full_message=typed_data(chain.domain, voucher))
    grant_signature = Account.sign_typed_data(payer.key, full_message=typed_data(chain.domain, grant))

    block = ClaimBlock(
        voucher=voucher,
        signature=bytes(voucher_signature.signature),
        grant=SignedGrant(grant=grant, signature=bytes(grant_signature.signature)),
    )
    receipt = chain.claim([block])
    assert claimed(chain, receipt) == [claimed_event(voucher, key.address, 1_234)]


def test_the_golden_vector() -> None:
    assert GOLDEN_DOMAIN.separator.hex() == "546876f4d402b1de9180bb321fcdb236d390e86deee055363497591f631e6c15"
    assert (
        entries_hash(GOLDEN_VOUCHER.entries).hex()
        == "938a2f0803869a327ab692733bfeee85217c3ab301235ad3e40922b08941cbbc"
    )
    golden_digest = digest(GOLDEN_DOMAIN, GOLDEN_VOUCHER)
    assert golden_digest.hex() == "ec80cdf82fc0483aee774f6bf4d5bf4e801f04472f2b6de72b346742e390c830"
    encoded = encode_typed_data(full_message=typed_data(GOLDEN_DOMAIN, GOLDEN_VOUCHER))
    assert keccak(b"\x19" + encoded.version + encoded.header + encoded.body) == golden_digest
    signed = Account.unsafe_sign_hash(golden_digest, GOLDEN_KEY)
    assert bytes(signed.signature).hex() == (
        "95893df6d4160a4e4fb923cd93378e1b696ba083635cf6c08d3ad9968ee7997c"
        "5cc98d52407498a41fb1f8205f41a73e32dd929b0d4a2e836571f9ecb2d461251b"
    )
    assert Account.from_key(GOLDEN_KEY).address == GOLDEN_VOUCHER.payer

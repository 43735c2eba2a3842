"""The Python client is a package of its own (clients/python): it imports nothing of the server,
and its copies of the server's EIP-712 types, signature rule, checksums and SIWE parser agree with
app.core for the same values, so the two definitions cannot drift apart."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from eth_account import Account
from micropayments_client import MicropaymentsError, addresses, eip712, signatures, siwe

from app.core import eip712 as server_eip712
from app.core import siwe as server_siwe
from app.core import types as server_types
from app.core.errors import Refusal
from app.core.signatures import SECP256K1_N
from app.core.signatures import recover as server_recover

HUB = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
PAYER = "0x70997970C51812Dc3A010c7D01B50E20D17Dc79C"
SIGNER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
PAYEES = [f"0x{n:02x}" + "ab" * 19 for n in range(32, 0, -1)]


def test_the_client_imports_nothing_of_the_server() -> None:
    """A dApp installs micropayments-client, not the server: with `app` unimportable, every
    module of the client still imports, and none of the server's is loaded."""
    probe = (
        "import importlib, pkgutil, sys; sys.modules['app'] = None; import micropayments_client as c; "
        "[importlib.import_module(c.__name__ + '.' + m.name) for m in pkgutil.iter_modules(c.__path__)]; "
        "print(' '.join(sorted(m for m in sys.modules if m == 'app' or m.startswith('app.'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == ["app"]  # only the blocker put there by the probe


@pytest.mark.parametrize("entries", [0, 1, 3, 32])
@pytest.mark.parametrize("chain_id", [1, 31337, 2**256 - 1])
def test_a_payer_voucher_has_the_same_digest_as_the_servers(entries: int, chain_id: int) -> None:
    vector = [(PAYEES[n], 10**n + n) for n in range(entries)]
    purchase, lane = bytes(range(32)), 2**64 - 1
    ours = eip712.PayerVoucher(
        addresses.to_address(PAYER), addresses.to_address(TOKEN), lane,
        tuple(eip712.Entry(addresses.to_address(p), a) for p, a in vector), purchase,
    )  # fmt: skip
    theirs = server_eip712.PayerVoucher(
        server_types.to_address(PAYER), server_types.to_address(TOKEN), lane,
        tuple(server_eip712.Entry(server_types.to_address(p), a) for p, a in vector), purchase,
    )  # fmt: skip
    domain, server_domain = client_and_server_domains(chain_id)
    assert eip712.digest(domain, ours) == server_eip712.digest(server_domain, theirs)
    assert eip712.typed_data(domain, ours) == server_eip712.typed_data(server_domain, theirs)
    acknowledgement = eip712.Acknowledgement(eip712.digest(domain, ours))
    server_acknowledgement = server_eip712.Acknowledgement(server_eip712.digest(server_domain, theirs))
    assert eip712.digest(domain, acknowledgement) == server_eip712.digest(
        server_domain, server_acknowledgement
    )
    assert eip712.typed_data(domain, acknowledgement) == server_eip712.typed_data(
        server_domain, server_acknowledgement
    )


def test_a_session_grant_has_the_same_digest_as_the_servers() -> None:
    values = (PAYER, SIGNER, TOKEN, 7, 2**128 - 1, 1_900_000_000)
    ours = eip712.SessionGrant(*map(addresses.to_address, values[:3]), *values[3:])  # type: ignore[arg-type]
    theirs = server_eip712.SessionGrant(*map(server_types.to_address, values[:3]), *values[3:])  # type: ignore[arg-type]
    domain, server_domain = client_and_server_domains(31337)
    assert eip712.digest(domain, ours) == server_eip712.digest(server_domain, theirs)
    assert eip712.typed_data(domain, ours) == server_eip712.typed_data(server_domain, theirs)


def test_the_types_and_limits_are_the_servers() -> None:
    names = [
        "DOMAIN_NAME", "DOMAIN_VERSION", "MAX_LANE_ENTRIES", "MAX_LANE", "MAX_VALID_UNTIL",
        "EIP712_DOMAIN_FIELDS", "ENTRY_FIELDS", "PAYER_VOUCHER_FIELDS", "SESSION_GRANT_FIELDS",
        "ACKNOWLEDGEMENT_FIELDS", "DOMAIN_TYPEHASH", "ENTRY_TYPEHASH", "PAYER_VOUCHER_TYPEHASH",
        "SESSION_GRANT_TYPEHASH", "ACKNOWLEDGEMENT_TYPEHASH",
    ]  # fmt: skip
    assert {n: getattr(eip712, n) for n in names} == {n: getattr(server_eip712, n) for n in names}
    assert (addresses.UINT128_MAX, addresses.UINT256_MAX) == (
        server_types.UINT128_MAX,
        server_types.UINT256_MAX,
    )


@pytest.mark.parametrize("text", [PAYER.lower(), PAYER.upper().replace("0X", "0x"), "0x" + "00" * 20, HUB])
def test_an_address_is_checksummed_as_the_server_does(text: str) -> None:
    assert addresses.to_address(text) == server_types.to_address(text)


def signature_forms(digest: bytes) -> dict[str, bytes]:
    signed = Account.from_key(b"\x01" * 32).unsafe_sign_hash(digest)
    r, s, v = signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"), signed.v
    vs = ((v - 27) << 255 | signed.s).to_bytes(32, "big")
    return {
        "65 bytes, v 27/28": r + s + bytes([v]),
        "64 bytes, EIP-2098": r + vs,
        "v 0/1": r + s + bytes([v - 27]),
        "high s": r + (SECP256K1_N - signed.s).to_bytes(32, "big") + bytes([55 - v]),
        "r zero": bytes(32) + s + bytes([v]),
        "66 bytes": r + s + bytes([v, 0]),
        "empty": b"",
    }


@pytest.mark.parametrize("form", list(signature_forms(bytes(32))))
def test_a_signature_recovers_as_the_hub_rules(form: str) -> None:
    digest = bytes.fromhex("ab" * 32)
    signature = signature_forms(digest)[form]
    assert signatures.recover(digest, signature) == server_recover(digest, signature)


def test_a_sign_in_message_reads_as_the_server_wrote_it() -> None:
    built = server_siwe.build(
        domain="app.example:8443", uri="https://app.example/", chain_id=31337, nonce="abcdef123456",
        address=PAYER.lower(), now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), ttl=timedelta(minutes=10),
        statement="Sign in to pay per article.", request_id="r-1", resources=["ipfs://x", "https://y/"],
    )  # fmt: skip
    text = built.to_text()
    assert dataclasses.asdict(siwe.parse(text)) == dataclasses.asdict(server_siwe.parse(text))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(PAYER, PAYER.lower()),
        lambda t: t.replace("Chain ID: 31337", "Chain ID: 031337"),
        lambda t: t.replace("05Z", "05.5Z"),
        lambda t: "https://" + t,
        lambda t: t + "\nExtra: line",
        lambda t: t.replace("Version: 1", "Version: 2"),
        lambda t: t.split("\nURI")[0],
    ],
)
def test_a_malformed_sign_in_message_is_refused_with_the_servers_words(tamper: object) -> None:
    built = server_siwe.build(
        domain="app.example", uri="https://app.example/", chain_id=31337, nonce="abcdef123456",
        address=PAYER, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), ttl=timedelta(minutes=10),
    )  # fmt: skip
    text = tamper(built.to_text())  # type: ignore[operator]
    with pytest.raises(Refusal) as server_refused:
        server_siwe.parse(text)
    with pytest.raises(MicropaymentsError) as refused:
        siwe.parse(text)
    assert (refused.value.code, refused.value.message) == (
        "UNEXPECTED_SIGN_IN_MESSAGE",
        server_refused.value.message,
    )


def client_and_server_domains(chain_id: int) -> tuple[eip712.Domain, server_eip712.Domain]:
    return (
        eip712.Domain(chain_id, addresses.to_address(HUB)),
        server_eip712.Domain(chain_id, server_types.to_address(HUB)),
    )

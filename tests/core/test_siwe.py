"""Sign-In with Ethereum: the exact text, a strict parser, and every refusal of verify()."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import InvalidInput, Unauthenticated, WrongChain
from app.core.siwe import SiweMessage, build, parse, verify
from app.core.types import Address, to_address

KEY = "0x" + "01" * 32
OTHER_KEY = "0x" + "02" * 32
SIGNER = to_address(Account.from_key(KEY).address)
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DOMAIN = "app.example.com"
URI = "https://app.example.com/login"
URI_PREFIX = "https://app.example.com/"
CHAIN_ID = 31337

SPEC_EXAMPLE = """\
example.com wants you to sign in with your Ethereum account:
0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2

I accept the ExampleOrg Terms of Service: https://example.com/tos

URI: https://example.com/login
Version: 1
Chain ID: 1
Nonce: 32891756
Issued At: 2021-09-30T16:25:24Z
Resources:
- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/
- https://example.com/my-web2-claim.json"""


def make_message(**overrides: Any) -> SiweMessage:
    fields: dict[str, Any] = {
        "domain": DOMAIN,
        "address": SIGNER,
        "statement": "Sign in to the micropayment hub.",
        "uri": URI,
        "chain_id": CHAIN_ID,
        "nonce": "k3x9Qw7LmN2p",
        "issued_at": NOW,
        "expiration_time": NOW + timedelta(minutes=10),
    }
    return SiweMessage(**(fields | overrides))


def sign(text: str, key: str = KEY) -> bytes:
    return bytes(Account.sign_message(encode_defunct(text=text), private_key=key).signature)


def check(message: SiweMessage, signature: bytes | None = None, **overrides: Any) -> Address:
    """verify() as the server calls it, with the signature of the signer over the message by default."""
    arguments: dict[str, Any] = {
        "expected_domain": DOMAIN,
        "expected_uri_prefix": URI_PREFIX,
        "expected_chain_id": CHAIN_ID,
        "now": NOW,
    }
    return verify(
        message,
        signature=sign(message.to_text()) if signature is None else signature,
        **(arguments | overrides),
    )


def test_full_message_renders_the_eip_4361_text_and_parses_back_equal() -> None:
    message = make_message(
        not_before=NOW - timedelta(minutes=1),
        request_id="req-42",
        resources=("ipfs://bafybei/", "https://app.example.com/terms"),
    )

    assert message.to_text() == (
        "app.example.com wants you to sign in with your Ethereum account:\n"
        f"{SIGNER}\n"
        "\n"
        "Sign in to the micropayment hub.\n"
        "\n"
        "URI: https://app.example.com/login\n"
        "Version: 1\n"
        "Chain ID: 31337\n"
        "Nonce: k3x9Qw7LmN2p\n"
        "Issued At: 2024-05-01T12:00:00Z\n"
        "Expiration Time: 2024-05-01T12:10:00Z\n"
        "Not Before: 2024-05-01T11:59:00Z\n"
        "Request ID: req-42\n"
        "Resources:\n"
        "- ipfs://bafybei/\n"
        "- https://app.example.com/terms"
    )
    assert parse(message.to_text()) == message


def test_message_without_statement_has_two_blank_lines_before_the_uri() -> None:
    message = make_message(statement=None)

    assert f"{SIGNER}\n\n\nURI: " in message.to_text()
    assert parse(message.to_text()).statement is None


def test_empty_statement_is_kept_apart_from_no_statement() -> None:
    message = make_message(statement="")

    assert f"{SIGNER}\n\n\n\nURI: " in message.to_text()
    assert parse(message.to_text()) == message


def test_example_from_the_eip_4361_spec_parses() -> None:
    message = parse(SPEC_EXAMPLE)

    assert message.domain == "example.com"
    assert message.address == "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
    assert message.statement == "I accept the ExampleOrg Terms of Service: https://example.com/tos"
    assert message.uri == "https://example.com/login"
    assert message.version == "1"
    assert message.chain_id == 1
    assert message.nonce == "32891756"
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=UTC)
    assert message.expiration_time is None
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    )
    assert message.to_text() == SPEC_EXAMPLE


def test_message_signed_with_personal_sign_verifies_to_its_address() -> None:
    message = make_message()

    assert check(parse(message.to_text()), sign(message.to_text())) == SIGNER


def test_message_built_by_the_server_verifies_after_the_round_trip() -> None:
    message = build(
        domain=DOMAIN,
        uri=URI,
        chain_id=CHAIN_ID,
        nonce="A1b2C3d4E5",
        address=SIGNER.lower(),
        now=NOW + timedelta(microseconds=999_999),
        ttl=timedelta(minutes=5),
        statement="Sign in.",
    )
    text = message.to_text()

    assert message.address == SIGNER
    assert message.issued_at == NOW
    assert message.expiration_time == NOW + timedelta(minutes=5)
    assert check(parse(text), sign(text), now=NOW + timedelta(minutes=4)) == SIGNER


def test_build_refuses_a_naive_clock_and_a_ttl_under_a_second() -> None:
    arguments: dict[str, Any] = {
        "domain": DOMAIN,
        "uri": URI,
        "chain_id": CHAIN_ID,
        "nonce": "A1b2C3d4E5",
        "address": SIGNER,
    }
    with pytest.raises(InvalidInput, match="timezone-aware"):
        build(**arguments, now=datetime(2024, 5, 1), ttl=timedelta(minutes=5))
    with pytest.raises(InvalidInput, match="at least one second"):
        build(**arguments, now=NOW, ttl=timedelta(0))
    with pytest.raises(InvalidInput, match="20-byte hex address"):
        build(**(arguments | {"address": "0x1234"}), now=NOW, ttl=timedelta(minutes=5))


def test_expired_message_is_refused() -> None:
    message = make_message(expiration_time=NOW)

    with pytest.raises(Unauthenticated, match="expired at 2024-05-01T12:00:00Z") as refusal:
        check(message)
    assert refusal.value.fields["reason"] == "expired"


def test_message_without_expiration_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="no Expiration Time"):
        check(make_message(expiration_time=None))


def test_message_not_yet_valid_is_refused() -> None:
    message = make_message(not_before=NOW + timedelta(seconds=1))

    with pytest.raises(Unauthenticated, match="not valid before 2024-05-01T12:00:01Z"):
        check(message)


def test_message_issued_within_the_clock_skew_is_accepted_and_beyond_it_is_refused() -> None:
    skewed = make_message(issued_at=NOW + timedelta(minutes=5))
    ahead = make_message(issued_at=NOW + timedelta(minutes=5, seconds=1))

    assert check(skewed) == SIGNER
    with pytest.raises(Unauthenticated, match="in the future"):
        check(ahead)


def test_message_for_another_domain_is_refused() -> None:
    with pytest.raises(
        Unauthenticated, match=re.escape("for domain 'evil.example.com', expected 'app.example.com'")
    ):
        check(make_message(domain="evil.example.com"))


def test_message_whose_uri_is_outside_the_prefix_is_refused() -> None:
    with pytest.raises(Unauthenticated, match=re.escape("does not start with 'https://app.example.com/'")):
        check(make_message(uri="https://app.example.com.evil.org/login"))


def test_no_uri_prefix_accepts_any_uri() -> None:
    assert check(make_message(uri="did:pkh:eip155:1"), expected_uri_prefix=None) == SIGNER


def test_message_for_another_chain_raises_wrong_chain() -> None:
    with pytest.raises(WrongChain, match="for chain 1, this server is on chain 31337") as refusal:
        check(make_message(chain_id=1))
    assert refusal.value.fields == {"chain_id": 1, "expected": CHAIN_ID}


def test_tampered_text_does_not_verify() -> None:
    signed = make_message()
    tampered = parse(signed.to_text().replace("Nonce: k3x9Qw7LmN2p", "Nonce: k3x9Qw7LmN2q"))

    with pytest.raises(Unauthenticated, match=f"not made by {SIGNER}") as refusal:
        check(tampered, sign(signed.to_text()))
    assert refusal.value.fields["reason"] == "bad_signature"


def test_signature_by_another_key_is_refused() -> None:
    message = make_message()

    with pytest.raises(Unauthenticated, match="signature was not made by"):
        check(message, sign(message.to_text(), OTHER_KEY))


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        bytes(64),
        bytes(66),
        bytes(64) + b"\x05",
        bytes(65),
        b"\xff" * 64 + b"\x1b",
    ],
    ids=["empty", "64 bytes", "66 bytes", "v is 5", "all zeros", "r and s above the curve order"],
)
def test_malformed_signature_is_refused_as_a_bad_signature(signature: bytes) -> None:
    with pytest.raises(Unauthenticated, match="signature was not made by"):
        check(make_message(), signature)


def mutate(old: str, new: str) -> str:
    text = make_message().to_text()
    assert old in text
    return text.replace(old, new, 1)


BASE_TEXT = make_message().to_text()
MALFORMED_TEXTS = [
    ("wrong header", mutate("wants you", "want you"), r"header \(line 1\) must be"),
    ("scheme before the domain", mutate("app.example.com wants", "https://app.example.com wants"), "scheme"),
    ("space in the domain", mutate("app.example.com wants", "app example.com wants"), "RFC 3986 authority"),
    (
        "address not checksummed",
        mutate(SIGNER, SIGNER.lower()),
        rf"address \(line 2\) must be EIP-55 checksummed \({SIGNER}\)",
    ),
    ("address too short", mutate(SIGNER, SIGNER[:-1]), "must be 0x and 40 hex digits"),
    ("address not hex", mutate(SIGNER, SIGNER[:-1] + "g"), "must be 0x and 40 hex digits"),
    (
        "missing blank line",
        mutate("hub.\n\nURI", "hub.\nURI"),
        r"\(line 5\) needs a blank line after the statement",
    ),
    ("statement with a percent sign", mutate("hub.", "100% sure"), "statement .* may hold only"),
    ("uri without a scheme", mutate("URI: https", "URI: //"), r"uri \(line 6\) must be an RFC 3986 URI"),
    ("version 2", mutate("Version: 1", "Version: 2"), "version .* must be '1'"),
    ("hex chain id", mutate("Chain ID: 31337", "Chain ID: 0x7a69"), r"chain_id \(line 8\) must be a decimal"),
    ("chain id with a leading zero", mutate("Chain ID: 31337", "Chain ID: 031337"), "without leading zeros"),
    ("short nonce", mutate("Nonce: k3x9Qw7LmN2p", "Nonce: k3x9Qw7"), r"nonce \(line 9\) must be at least 8"),
    ("nonce with a dash", mutate("Nonce: k3x9Qw7LmN2p", "Nonce: k3x9-w7LmN2p"), "8 ASCII letters or digits"),
    (
        "fractional seconds",
        mutate("12:00:00Z", "12:00:00.000Z"),
        r"issued_at \(line 10\) must be RFC 3339 UTC",
    ),
    ("offset instead of Z", mutate("12:00:00Z", "12:00:00+00:00"), "issued_at .* in whole seconds"),
    ("february 30", mutate("2024-05-01T12:00:00Z", "2024-02-30T12:00:00Z"), "not a real UTC date"),
    ("expiration not a time", mutate("Time: 2024", "Time: soon"), "expiration_time .* must be RFC 3339"),
    (
        "unknown required line",
        mutate("Nonce:", "Color: blue\nNonce:"),
        r"\(line 9\) line must start with 'Nonce: '",
    ),
    (
        "unknown optional line",
        mutate("Z\nExpiration", "Z\nColor: blue\nExpiration"),
        "unexpected line 'Color",
    ),
    (
        "optional fields out of order",
        mutate("Expiration Time", "Not Before: 2024-05-01T11:00:00Z\nExpiration Time"),
        r"\(line 12\) has an unexpected line 'Expiration Time",
    ),
    ("optional field twice", BASE_TEXT + "\nExpiration Time: 2024-05-01T12:20:00Z", "unexpected line"),
    ("resources line without resources", BASE_TEXT + "\nResources:", "at least one '- <uri>'"),
    ("trailing newline", BASE_TEXT + "\n", r"\(line 12\) has an unexpected line ''"),
    ("truncated", BASE_TEXT.split("\nNonce")[0], "ends at line 8, before 'Nonce: '"),
    ("empty", "", "header"),
]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [pytest.param(text, complaint, id=name) for name, text, complaint in MALFORMED_TEXTS],
)
def test_malformed_text_is_refused_with_a_message_naming_the_fault(text: str, complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        parse(text)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"address": SIGNER.lower()}, "EIP-55"),
        ({"issued_at": datetime(2024, 5, 1)}, "timezone-aware UTC"),
        ({"issued_at": NOW.astimezone(UTC).replace(tzinfo=None)}, "timezone-aware UTC"),
        ({"expiration_time": NOW + timedelta(microseconds=1)}, "whole seconds"),
        ({"nonce": "short"}, "at least 8"),
        ({"chain_id": -1}, "from 0 to 2\\*\\*256 - 1"),
        ({"statement": "two\nlines"}, "may hold only"),
        ({"request_id": "a b"}, "pchar"),
        ({"resources": ("not a uri",)}, "RFC 3986 URI"),
    ],
)
def test_invalid_message_cannot_be_constructed(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        make_message(**overrides)


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
URI_CHARS = ALNUM + "-._~:/?#[]@!$&'()*+,;="

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: to_address("0x" + raw.hex()))
domains = st.from_regex(
    r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}(:[0-9]{1,5})?", fullmatch=True
)
uris = st.builds(
    lambda scheme, rest: f"{scheme}:{rest}",
    st.from_regex(r"[a-zA-Z][a-zA-Z0-9+.\-]{0,8}", fullmatch=True),
    st.text(alphabet=URI_CHARS, max_size=40),
)
times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(UTC)
).map(lambda value: value.replace(microsecond=0))
messages = st.builds(
    SiweMessage,
    domain=domains,
    address=addresses,
    statement=st.none() | st.text(alphabet=URI_CHARS + " ", max_size=80),
    uri=uris,
    chain_id=st.integers(min_value=0, max_value=2**256 - 1),
    nonce=st.text(alphabet=ALNUM, min_size=8, max_size=32),
    issued_at=times,
    expiration_time=st.none() | times,
    not_before=st.none() | times,
    request_id=st.none() | st.text(alphabet=ALNUM + "-._~!$&'()*+,;=:@", max_size=20),
    resources=st.lists(uris, max_size=4).map(tuple),
)


@given(messages)
def test_any_valid_message_round_trips_through_its_text(message: SiweMessage) -> None:
    text = message.to_text()

    assert parse(text) == message
    assert parse(text).to_text() == text

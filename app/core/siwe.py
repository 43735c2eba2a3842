"""Sign-In with Ethereum (EIP-4361): the message, its exact text, a strict parser, and the checks.

The server hands the client a message from `build()`; the wallet signs its
`to_text()` with EIP-191 `personal_sign`; the server `parse()`s the text it gets
back and `verify()`s it against its own domain, URI, chain and clock.

`verify()` checks the signature over `to_text()`, not over the text the client
sent, so `parse()` accepts exactly the texts `to_text()` produces
(`parse(text).to_text() == text`). That makes it stricter than the grammar in
three places, each refused with a message that says so:

- timestamps are RFC 3339 UTC in whole seconds with a 'Z' (no fractions, no offsets);
- no `scheme://` before the domain, and no leading zeros in the chain id;
- no `Resources:` line without at least one resource.

Addresses must be EIP-55 checksummed. Only EOAs sign in here (EIP-191), not
EIP-1271 contract wallets. Pure: no I/O, no clock (`now` is a parameter). The
nonce (single use, TTL) is the server's to check, not this module's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.exceptions import ValidationError

from app.core.errors import InvalidInput, Unauthenticated, WrongChain
from app.core.types import UINT256_MAX, Address, InvalidAddressError, to_address

VERSION = "1"
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future `issued_at` may be: the client's clock may run ahead of ours."""
HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"

# RFC 3986 character classes, spelled out in ASCII (Python's \d and \w also match
# non-ASCII digits and letters). Every pattern is used with fullmatch.
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = "!$&'()*+,;="
_GEN_DELIMS = r":/?#\[\]@"
_PCT_ENCODED = "%[0-9A-Fa-f]{2}"

_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT_ENCODED})*"
_HOST = rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT_ENCODED})+)"
_DOMAIN_RE = re.compile(rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?")
_URI_RE = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.\-]*:(?:[{_UNRESERVED}{_SUB_DELIMS}{_GEN_DELIMS}]|{_PCT_ENCODED})*"
)
_STATEMENT_RE = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}{_GEN_DELIMS} ]*")
_REQUEST_ID_RE = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT_ENCODED})*")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE_RE = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID_RE = re.compile(r"0|[1-9][0-9]{0,77}")  # uint256 has at most 78 digits
_TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")

_TIME_FORMAT = "RFC 3339 UTC in whole seconds, like 2021-09-30T16:25:24Z"


@dataclass(frozen=True, kw_only=True)
class SiweMessage:
    """One EIP-4361 message. Every instance is valid: its `to_text()` is accepted by `parse()`."""

    domain: str
    address: Address
    statement: str | None = None
    uri: str
    version: str = VERSION
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None = None
    not_before: datetime | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_domain(self.domain)
        _check_address(self.address)
        if self.statement is not None:
            _check_statement(self.statement)
        _check_uri("uri", self.uri)
        _check_version(self.version)
        _check_chain_id(self.chain_id)
        _check_nonce(self.nonce)
        _check_time("issued_at", self.issued_at)
        if self.expiration_time is not None:
            _check_time("expiration_time", self.expiration_time)
        if self.not_before is not None:
            _check_time("not_before", self.not_before)
        if self.request_id is not None:
            _check_request_id(self.request_id)
        for resource in self.resources:
            _check_uri("resources", resource)

    def to_text(self) -> str:
        """The exact EIP-4361 text, which is what the wallet signs."""
        lines = [f"{self.domain}{HEADER_SUFFIX}", self.address, ""]
        # Two blank lines when the statement is absent, as the grammar's `[ statement LF ] LF` gives.
        lines += [self.statement, ""] if self.statement is not None else [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {_format_time(self.issued_at)}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {_format_time(self.expiration_time)}")
        if self.not_before is not None:
            lines.append(f"Not Before: {_format_time(self.not_before)}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)


def parse(text: str) -> SiweMessage:
    """Parses an EIP-4361 text; raises `InvalidInput` naming the line and field at fault."""
    lines = _Lines(text)

    header = lines.take("the header")
    if not header.endswith(HEADER_SUFFIX):
        raise _invalid("header", f"must be '<domain>{HEADER_SUFFIX}', got {_show(header)}", lines.number)
    domain = header.removesuffix(HEADER_SUFFIX)
    if "://" in domain:
        raise _invalid("domain", f"must be a bare authority without a scheme, got {_show(domain)}", 1)
    _check_domain(domain, 1)

    address = lines.take("the address")
    _check_address(address, lines.number)
    lines.take_blank("after the address")

    statement: str | None
    line = lines.take("the statement or a blank line")
    if line == "" and lines.peek() != "":
        statement = None
    else:
        statement = line
        _check_statement(statement, lines.number)
        lines.take_blank("after the statement")

    uri = lines.take_field("URI: ", "uri")
    _check_uri("uri", uri, lines.number)
    version = lines.take_field("Version: ", "version")
    _check_version(version, lines.number)
    chain_id = _parse_chain_id(lines.take_field("Chain ID: ", "chain_id"), lines.number)
    nonce = lines.take_field("Nonce: ", "nonce")
    _check_nonce(nonce, lines.number)
    issued_at = _parse_time("issued_at", lines.take_field("Issued At: ", "issued_at"), lines.number)

    expiration_time = not_before = None
    if (value := lines.take_optional("Expiration Time: ")) is not None:
        expiration_time = _parse_time("expiration_time", value, lines.number)
    if (value := lines.take_optional("Not Before: ")) is not None:
        not_before = _parse_time("not_before", value, lines.number)
    if (request_id := lines.take_optional("Request ID: ")) is not None:
        _check_request_id(request_id, lines.number)
    resources: list[str] = []
    if lines.peek() == "Resources:":
        lines.take("'Resources:'")
        while (resource := lines.take_optional("- ")) is not None:
            _check_uri("resources", resource, lines.number)
            resources.append(resource)
        if not resources:
            raise _invalid("resources", "must list at least one '- <uri>' after 'Resources:'", lines.number)
    lines.expect_end()

    return SiweMessage(
        domain=domain,
        address=Address(address),
        statement=statement,
        uri=uri,
        version=version,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=expiration_time,
        not_before=not_before,
        request_id=request_id,
        resources=tuple(resources),
    )


def verify(
    message: SiweMessage,
    *,
    signature: bytes,
    expected_domain: str,
    expected_uri_prefix: str | None,
    expected_chain_id: int,
    now: datetime,
) -> Address:
    """Checks the message is ours, current and signed by its address (EIP-191); returns the address.

    Raises `WrongChain` for another chain, `Unauthenticated` for everything else.
    The prefix is compared as a string: end it with '/' (`https://app.example/`,
    not `https://app.example`), or `https://app.example.evil.org/` also passes.
    The nonce is not checked here: the caller must consume it (single use).
    """
    if message.domain != expected_domain:
        raise Unauthenticated(
            f"SIWE message is for domain {_show(message.domain)}, expected {_show(expected_domain)}",
            reason="domain_mismatch",
            domain=message.domain,
            expected=expected_domain,
        )
    if expected_uri_prefix is not None and not message.uri.startswith(expected_uri_prefix):
        raise Unauthenticated(
            f"SIWE message URI {_show(message.uri)} does not start with {_show(expected_uri_prefix)}",
            reason="uri_mismatch",
            uri=message.uri,
            expected_prefix=expected_uri_prefix,
        )
    if message.chain_id != expected_chain_id:
        raise WrongChain(
            f"SIWE message is for chain {message.chain_id}, this server is on chain {expected_chain_id}",
            chain_id=message.chain_id,
            expected=expected_chain_id,
        )
    if message.expiration_time is None:
        raise Unauthenticated(
            "SIWE message has no Expiration Time; this server requires one", reason="no_expiration"
        )
    if message.expiration_time <= now:
        raise Unauthenticated(
            f"SIWE message expired at {_format_time(message.expiration_time)}",
            reason="expired",
            expiration_time=_format_time(message.expiration_time),
        )
    if message.not_before is not None and message.not_before > now:
        raise Unauthenticated(
            f"SIWE message is not valid before {_format_time(message.not_before)}",
            reason="not_yet_valid",
            not_before=_format_time(message.not_before),
        )
    if message.issued_at > now + CLOCK_SKEW:
        raise Unauthenticated(
            f"SIWE message is issued at {_format_time(message.issued_at)}, in the future",
            reason="issued_in_future",
            issued_at=_format_time(message.issued_at),
        )
    if _recover(message.to_text(), signature) != message.address:
        raise Unauthenticated(
            f"SIWE signature was not made by {message.address} over this message",
            reason="bad_signature",
            address=message.address,
        )
    return message.address


def build(
    *,
    domain: str,
    uri: str,
    chain_id: int,
    nonce: str,
    address: str,
    now: datetime,
    ttl: timedelta,
    statement: str | None = None,
    request_id: str | None = None,
    resources: Sequence[str] = (),
) -> SiweMessage:
    """The message the server hands a client to sign: issued `now` (whole seconds), expiring `ttl` later.

    `address` may be in any case (wallets send lowercase); the message holds it checksummed.
    """
    if now.utcoffset() is None:
        raise InvalidInput("now must be timezone-aware", field="now")
    if ttl < timedelta(seconds=1):
        raise InvalidInput(f"ttl must be at least one second, got {ttl}", field="ttl")
    try:
        checksummed = to_address(address)
    except InvalidAddressError as error:
        raise _invalid(
            "address", f"must be a 0x-prefixed 20-byte hex address, got {_show(address)}"
        ) from error
    issued_at = now.astimezone(UTC).replace(microsecond=0)
    return SiweMessage(
        domain=domain,
        address=checksummed,
        statement=statement,
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=issued_at,
        expiration_time=(issued_at + ttl).replace(microsecond=0),
        request_id=request_id,
        resources=tuple(resources),
    )


def _recover(text: str, signature: bytes) -> Address | None:
    """The signer of `text`, or None if the signature is malformed."""
    if len(signature) != 65 or signature[64] not in (0, 1, 27, 28):
        return None
    try:
        return Address(Account.recover_message(encode_defunct(text=text), signature=signature))
    except (BadSignature, ValidationError, ValueError):
        # r or s out of range, or no public key recovers from them.
        return None


class _Lines:
    """A cursor over the lines of a text; `number` is the 1-based number of the line last taken."""

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")
        self.number = 0

    def peek(self) -> str | None:
        return self._lines[self.number] if self.number < len(self._lines) else None

    def take(self, what: str) -> str:
        line = self.peek()
        if line is None:
            raise _invalid("text", f"ends at line {self.number}, before {what}")
        self.number += 1
        return line

    def take_blank(self, where: str) -> None:
        line = self.take(f"the blank line {where}")
        if line != "":
            raise _invalid("text", f"needs a blank line {where}, got {_show(line)}", self.number)

    def take_field(self, label: str, field: str) -> str:
        line = self.take(f"'{label}'")
        if not line.startswith(label):
            raise _invalid(field, f"line must start with '{label}', got {_show(line)}", self.number)
        return line.removeprefix(label)

    def take_optional(self, label: str) -> str | None:
        line = self.peek()
        if line is None or not line.startswith(label):
            return None
        self.number += 1
        return line.removeprefix(label)

    def expect_end(self) -> None:
        line = self.peek()
        if line is not None:
            raise _invalid(
                "text",
                f"has an unexpected line {_show(line)}: optional fields come once each, in the EIP-4361 "
                "order (Expiration Time, Not Before, Request ID, Resources), and nothing follows them",
                self.number + 1,
            )


def _invalid(field: str, problem: str, line: int | None = None) -> InvalidInput:
    if line is None:
        return InvalidInput(f"SIWE message: {field} {problem}", field=field)
    return InvalidInput(f"SIWE message: {field} (line {line}) {problem}", field=field, line=line)


def _show(value: str) -> str:
    """The value quoted for an error message, cut short: it came from the client."""
    return repr(value if len(value) <= 80 else value[:80] + "...")


def _check_domain(domain: str, line: int | None = None) -> None:
    if not _DOMAIN_RE.fullmatch(domain):
        raise _invalid("domain", f"must be an RFC 3986 authority (host[:port]), got {_show(domain)}", line)


def _check_address(address: str, line: int | None = None) -> None:
    if not _ADDRESS_RE.fullmatch(address):
        raise _invalid("address", f"must be 0x and 40 hex digits, got {_show(address)}", line)
    checksummed = to_checksum_address(address)
    if address != checksummed:
        raise _invalid("address", f"must be EIP-55 checksummed ({checksummed}), got {address}", line)


def _check_statement(statement: str, line: int | None = None) -> None:
    if not _STATEMENT_RE.fullmatch(statement):
        raise _invalid(
            "statement",
            f"may hold only ASCII letters, digits, spaces and RFC 3986 reserved or unreserved "
            f"characters (no '%', '\"', newline...), got {_show(statement)}",
            line,
        )


def _check_uri(field: str, uri: str, line: int | None = None) -> None:
    if not _URI_RE.fullmatch(uri):
        raise _invalid(field, f"must be an RFC 3986 URI (scheme:...), got {_show(uri)}", line)


def _check_version(version: str, line: int | None = None) -> None:
    if version != VERSION:
        raise _invalid("version", f"must be {VERSION!r}, got {_show(version)}", line)


def _check_chain_id(chain_id: int, line: int | None = None) -> None:
    if isinstance(chain_id, bool) or not 0 <= chain_id <= UINT256_MAX:
        raise _invalid("chain_id", f"must be an integer from 0 to 2**256 - 1, got {chain_id!r}", line)


def _parse_chain_id(text: str, line: int) -> int:
    if not _CHAIN_ID_RE.fullmatch(text):
        raise _invalid("chain_id", f"must be a decimal number without leading zeros, got {_show(text)}", line)
    chain_id = int(text)
    _check_chain_id(chain_id, line)
    return chain_id


def _check_nonce(nonce: str, line: int | None = None) -> None:
    if not _NONCE_RE.fullmatch(nonce):
        raise _invalid("nonce", f"must be at least 8 ASCII letters or digits, got {_show(nonce)}", line)


def _check_request_id(request_id: str, line: int | None = None) -> None:
    if not _REQUEST_ID_RE.fullmatch(request_id):
        raise _invalid(
            "request_id", f"may hold only RFC 3986 pchar characters, got {_show(request_id)}", line
        )


def _check_time(field: str, value: datetime, line: int | None = None) -> None:
    if value.utcoffset() != timedelta(0):
        raise _invalid(field, f"must be timezone-aware UTC, got {value!r}", line)
    if value.microsecond:
        raise _invalid(field, f"must be whole seconds, got {value.isoformat()}", line)


def _format_time(value: datetime) -> str:
    # Not strftime: it does not zero-pad years before 1000.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


def _parse_time(field: str, text: str, line: int) -> datetime:
    match = _TIME_RE.fullmatch(text)
    if not match:
        raise _invalid(field, f"must be {_TIME_FORMAT}, got {_show(text)}", line)
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as error:  # from datetime itself: month 13, February 30, second 60...
        raise _invalid(field, f"is not a real UTC date and time: {_show(text)}", line) from error

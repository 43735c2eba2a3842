"""The Sign-In with Ethereum (EIP-4361) message the client signs, read by a strict parser.

A copy of the parsing half of the server's app.core.siwe: it accepts exactly the texts the server
builds (RFC 3339 UTC times in whole seconds, no `scheme://` before the domain, EIP-55 addresses,
the optional fields once each in EIP-4361 order) and refuses anything else with
MicropaymentsError("UNEXPECTED_SIGN_IN_MESSAGE") naming the line and field at fault, so the
wallet signs only a sign-in it has read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from micropayments_client.addresses import UINT256_MAX, Address, to_address
from micropayments_client.errors import MicropaymentsError

VERSION = "1"
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
    """One EIP-4361 message, as `parse` read it."""

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


def parse(text: str) -> SiweMessage:
    """Parses an EIP-4361 text; raises UNEXPECTED_SIGN_IN_MESSAGE naming the line and field at fault."""
    lines = _Lines(text)

    header = lines.take("the header")
    if not header.endswith(HEADER_SUFFIX):
        raise _invalid("header", f"must be '<domain>{HEADER_SUFFIX}', got {_show(header)}", lines.number)
    domain = header.removesuffix(HEADER_SUFFIX)
    if "://" in domain:
        raise _invalid("domain", f"must be a bare authority without a scheme, got {_show(domain)}", 1)
    _check(_DOMAIN_RE, domain, "domain", "must be an RFC 3986 authority (host[:port])", 1)

    address = lines.take("the address")
    _check_address(address, lines.number)
    lines.take_blank("after the address")

    statement: str | None
    line = lines.take("the statement or a blank line")
    if line == "" and lines.peek() != "":
        statement = None
    else:
        statement = line
        _check(
            _STATEMENT_RE,
            statement,
            "statement",
            "may hold only ASCII letters, digits, spaces and RFC 3986 reserved or unreserved "
            "characters (no '%', '\"', newline...)",
            lines.number,
        )
        lines.take_blank("after the statement")

    uri = lines.take_field("URI: ", "uri")
    _check(_URI_RE, uri, "uri", "must be an RFC 3986 URI (scheme:...)", lines.number)
    version = lines.take_field("Version: ", "version")
    if version != VERSION:
        raise _invalid("version", f"must be {VERSION!r}, got {_show(version)}", lines.number)
    chain_id = _parse_chain_id(lines.take_field("Chain ID: ", "chain_id"), lines.number)
    nonce = lines.take_field("Nonce: ", "nonce")
    _check(_NONCE_RE, nonce, "nonce", "must be at least 8 ASCII letters or digits", lines.number)
    issued_at = _parse_time("issued_at", lines.take_field("Issued At: ", "issued_at"), lines.number)

    expiration_time = not_before = None
    if (value := lines.take_optional("Expiration Time: ")) is not None:
        expiration_time = _parse_time("expiration_time", value, lines.number)
    if (value := lines.take_optional("Not Before: ")) is not None:
        not_before = _parse_time("not_before", value, lines.number)
    if (request_id := lines.take_optional("Request ID: ")) is not None:
        _check(
            _REQUEST_ID_RE, request_id, "request_id", "may hold only RFC 3986 pchar characters", lines.number
        )
    resources: list[str] = []
    if lines.peek() == "Resources:":
        lines.take("'Resources:'")
        while (resource := lines.take_optional("- ")) is not None:
            _check(_URI_RE, resource, "resources", "must be an RFC 3986 URI (scheme:...)", lines.number)
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


def _invalid(field: str, problem: str, line: int | None = None) -> MicropaymentsError:
    where = field if line is None else f"{field} (line {line})"
    return MicropaymentsError("UNEXPECTED_SIGN_IN_MESSAGE", f"SIWE message: {where} {problem}")


def _show(value: str) -> str:
    """The value quoted for an error message, cut short: it came from the server."""
    return repr(value if len(value) <= 80 else value[:80] + "...")


def _check(pattern: re.Pattern[str], value: str, field: str, problem: str, line: int) -> None:
    if not pattern.fullmatch(value):
        raise _invalid(field, f"{problem}, got {_show(value)}", line)


def _check_address(address: str, line: int) -> None:
    if not _ADDRESS_RE.fullmatch(address):
        raise _invalid("address", f"must be 0x and 40 hex digits, got {_show(address)}", line)
    checksummed = to_address(address)
    if address != checksummed:
        raise _invalid("address", f"must be EIP-55 checksummed ({checksummed}), got {address}", line)


def _parse_chain_id(text: str, line: int) -> int:
    if not _CHAIN_ID_RE.fullmatch(text):
        raise _invalid("chain_id", f"must be a decimal number without leading zeros, got {_show(text)}", line)
    chain_id = int(text)
    if not 0 <= chain_id <= UINT256_MAX:
        raise _invalid("chain_id", f"must be an integer from 0 to 2**256 - 1, got {chain_id!r}", line)
    return chain_id


def _parse_time(field: str, text: str, line: int) -> datetime:
    match = _TIME_RE.fullmatch(text)
    if not match:
        raise _invalid(field, f"must be {_TIME_FORMAT}, got {_show(text)}", line)
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as error:  # from datetime itself: month 13, February 30, second 60...
        raise _invalid(field, f"is not a real UTC date and time: {_show(text)}", line) from error

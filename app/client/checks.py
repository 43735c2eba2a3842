"""What the client checks before it signs, pure: the next voucher of a lane (`next_voucher`), a
session grant (`checked_grant`). Each returns the message to sign, built from checked numbers,
or raises MicropaymentsError("UNEXPECTED_TYPED_DATA")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, TypeVar

from app.client.errors import MicropaymentsError
from app.core.eip712 import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    ENTRY_FIELDS,
    MAX_LANE,
    MAX_LANE_ENTRIES,
    MAX_VALID_UNTIL,
    PAYER_VOUCHER_FIELDS,
    SESSION_GRANT_FIELDS,
    Domain,
    Entries,
    Entry,
    PayerVoucher,
    SessionGrant,
)
from app.core.types import UINT128_MAX, Address, InvalidAddressError, to_address

T = TypeVar("T")


@dataclass(frozen=True)
class Purchase:
    """A checked voucher to sign for one action: what it pays, to whom, and the voucher."""

    voucher: PayerVoucher
    payee: Address
    price: int
    resource_id: str


def next_voucher(to_sign: Mapping[str, Any], payer: Address, resource_id: str, domain: Domain) -> Purchase:
    """The voucher to sign for a VoucherToSign, built from its checked numbers; raises
    UNEXPECTED_TYPED_DATA unless the proposed message is a PayerVoucher of `payer` in this domain,
    in the resource's token, on the announced lane, whose entries are `previousEntries` with the
    resource's payee raised by exactly its price (inserted in address order if new), nothing else
    changed, at most MAX_LANE_ENTRIES."""
    return checked(lambda: _next_voucher(to_sign, payer, resource_id, domain))


def _next_voucher(to_sign: Mapping[str, Any], payer: Address, resource_id: str, domain: Domain) -> Purchase:
    typed, resource = to_sign["typedData"], to_sign["resource"]
    _check_envelope(
        typed, "PayerVoucher", {"PayerVoucher": PAYER_VOUCHER_FIELDS, "Entry": ENTRY_FIELDS}, domain
    )
    if resource["id"] != resource_id:
        _refuse(f"the voucher is for {resource['id']}, not {resource_id}")
    price, payee, token = (
        _amount(resource["price"]),
        to_address(resource["payee"]),
        to_address(resource["token"]),
    )
    if price == 0:
        _refuse("the price is 0")
    message = typed["message"]
    if to_address(message["payer"]) != payer:
        _refuse(f"the voucher is of {message['payer']}, not {payer}")
    if to_address(message["token"]) != token:
        _refuse(f"the voucher is in {message['token']}, not the resource's token {token}")
    lane = int(to_sign["lane"])
    if not 0 <= lane <= MAX_LANE or int(message["lane"]) != lane:
        _refuse(f"the message's lane {message['lane']} is not the lane {lane}")
    purchase = bytes.fromhex(str(message["purchase"]).removeprefix("0x"))
    if len(purchase) != 32:
        _refuse("the purchase is not 32 bytes")
    wanted = raised(_entries(to_sign["previousEntries"]), payee, price)
    if len(wanted) > MAX_LANE_ENTRIES:
        _refuse(f"the lane would pay {len(wanted)} payees, more than {MAX_LANE_ENTRIES}")
    entries = _entries(message["entries"])
    if entries != wanted:
        _refuse(f"the entries are not the previous ones with {payee} raised by {price}")
    return Purchase(PayerVoucher(payer, token, lane, entries, purchase), payee, price, resource_id)


def checked_grant(
    typed: Mapping[str, Any],
    payer: Address,
    signer: Address,
    max_total: int,
    valid_until: int | None,
    token: Address,
    domain: Domain,
) -> SessionGrant:
    """The SessionGrant to sign, if the proposed one is exactly the grant asked for (this payer,
    the new key, the token, the cap, the expiry when given); raises UNEXPECTED_TYPED_DATA otherwise."""

    def check() -> SessionGrant:
        _check_envelope(typed, "SessionGrant", {"SessionGrant": SESSION_GRANT_FIELDS}, domain)
        m = typed["message"]
        grant = SessionGrant(
            to_address(m["payer"]), to_address(m["signer"]), to_address(m["token"]),
            int(m["lane"]), _amount(m["maxTotal"]), int(m["validUntil"]),
        )  # fmt: skip
        asked = SessionGrant(payer, signer, token, grant.lane, max_total, valid_until or grant.valid_until)
        if grant != asked:
            _refuse(f"the grant {grant.message()} is not the one asked for")
        if not 0 <= grant.lane <= MAX_LANE or not 0 < grant.valid_until <= MAX_VALID_UNTIL:
            _refuse("the grant's lane or expiry is out of range")
        return grant

    return checked(check)


def raised(entries: Entries, payee: Address, price: int) -> Entries:
    """`entries` with `payee` raised by `price`, inserted in address order when new."""
    before = next((e.cumulative_amount for e in entries if e.payee == payee), 0)
    rest = [e for e in entries if e.payee != payee]
    return tuple(sorted([*rest, Entry(payee, before + price)], key=lambda e: int(e.payee, 16)))


def _entries(items: Sequence[Mapping[str, Any]]) -> Entries:
    """A vector from the API, checked: strictly ascending payees, amounts in 1..2^128-1."""
    entries = tuple(Entry(to_address(e["payee"]), _amount(e["cumulativeAmount"])) for e in items)
    if any(e.cumulative_amount == 0 for e in entries):
        _refuse("an entry pays 0")
    if any(int(a.payee, 16) >= int(b.payee, 16) for a, b in pairwise(entries)):
        _refuse("the entries are not in strictly ascending order of payees")
    if len(entries) > MAX_LANE_ENTRIES:
        _refuse(f"{len(entries)} entries, more than {MAX_LANE_ENTRIES}")
    return entries


def signed_voucher(latest: Mapping[str, Any]) -> PayerVoucher:
    purchase = bytes.fromhex(str(latest["purchase"]).removeprefix("0x"))
    payer, token = to_address(latest["payer"]), to_address(latest["token"])
    return PayerVoucher(payer, token, int(latest["lane"]), _entries(latest["entries"]), purchase)


def _check_envelope(typed: Mapping[str, Any], primary: str, types: Mapping[str, Any], domain: Domain) -> None:
    """The proposed payload is `primary` with exactly `types`, in the hub's domain."""
    if typed.get("primaryType") != primary:
        _refuse(f"a {typed.get('primaryType')}, not a {primary}")
    proposed = {name: fields for name, fields in typed["types"].items() if name != "EIP712Domain"}
    if proposed != types:
        _refuse(f"the types are not {primary}'s")
    d = typed["domain"]
    if (d.get("name"), str(d.get("version"))) != (DOMAIN_NAME, DOMAIN_VERSION):
        _refuse(f"the domain is {d.get('name')} v{d.get('version')}")
    if int(d["chainId"]) != domain.chain_id or to_address(d["verifyingContract"]) != domain.hub:
        _refuse("the domain is another chain's or hub's")


def _amount(value: Any) -> int:
    amount = int(value)
    if not 0 <= amount <= UINT128_MAX or (isinstance(value, float)):
        _refuse(f"{value!r} is not an amount")
    return amount


def _refuse(why: str) -> None:
    raise MicropaymentsError("UNEXPECTED_TYPED_DATA", f"not signed: {why}")


def checked(check: Callable[[], T]) -> T:
    """`check()`, with malformed data (missing keys, bad addresses or numbers) as a refusal to sign."""
    try:
        return check()
    except MicropaymentsError:
        raise
    except (KeyError, TypeError, ValueError, InvalidAddressError) as error:
        raise MicropaymentsError("UNEXPECTED_TYPED_DATA", f"not signed: malformed {error!r}") from error

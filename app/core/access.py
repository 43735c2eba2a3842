"""What a payer's receipts for a resource give it, by the resource's access model.

    PER_USE    every action is paid; a receipt gives nothing afterwards
    PURCHASE   one receipt owns it for good (any device); paying again is refused
    TIME_PASS  a receipt gives `pass_seconds` from when it was accepted; paying while the pass
               runs is refused, paying after it ends buys the next pass

Pure: the store hands in the latest receipt of the payer for the resource.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.core.errors import AlreadyOwned


class AccessModel(StrEnum):
    PER_USE = "per_use"
    PURCHASE = "purchase"
    TIME_PASS = "time_pass"  # noqa: S105 (an access model, not a password)


@dataclass(frozen=True)
class Access:
    """A payer's access to one resource now. `until` is None for a purchase (forever) and when
    nothing is held; `receipt_id` is the receipt that gives it."""

    owned: bool
    until: int | None
    receipt_id: str | None


NO_ACCESS = Access(owned=False, until=None, receipt_id=None)


def access(model: AccessModel, pass_seconds: int, latest: tuple[str, int] | None, now: int) -> Access:
    """The access that the payer's latest receipt (id, accepted at) gives now."""
    if latest is None or model is AccessModel.PER_USE:
        return NO_ACCESS
    receipt_id, accepted_at = latest
    if model is AccessModel.PURCHASE:
        return Access(owned=True, until=None, receipt_id=receipt_id)
    until = accepted_at + pass_seconds
    return Access(owned=now < until, until=until, receipt_id=receipt_id)


def check_not_owned(resource_id: str, held: Access) -> None:
    """Raises AlreadyOwned while `held` gives the resource: the server never charges for it twice."""
    if held.owned:
        when = "for good" if held.until is None else f"until {held.until}"
        raise AlreadyOwned(
            f"{resource_id!r} is already paid for {when} (receipt {held.receipt_id}): read it without paying",
            resource=resource_id,
            receipt=held.receipt_id,
            until=held.until,
        )

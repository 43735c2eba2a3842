"""Creators' profiles: the display name each chose."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select, update

from app.core.types import Address
from app.store.tables import creator_profiles


def get_display_names(conn: Connection, addresses: Iterable[Address]) -> dict[Address, str]:
    """The display names of those of `addresses` that chose one."""
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    rows = conn.execute(select(creator_profiles).where(creator_profiles.c.address.in_(wanted)))
    return {row.address: row.display_name for row in rows}


def save_display_name(conn: Connection, address: Address, name: str, now: int) -> None:
    values = {"display_name": name, "updated_at": now}
    found = conn.execute(select(creator_profiles.c.address).where(creator_profiles.c.address == address))
    if found.first():
        conn.execute(update(creator_profiles).where(creator_profiles.c.address == address).values(**values))
    else:
        conn.execute(creator_profiles.insert().values(address=address, **values))

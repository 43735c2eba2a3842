"""Creators name themselves: a display name shown instead of (next to) their address."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from app.core.errors import InvalidInput
from app.core.types import Address
from app.services.clock import Clock
from app.store import profiles
from app.store.database import Database

MAX_DISPLAY_NAME = 64


class Profiles:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def display_names(self, addresses: Iterable[Address]) -> dict[Address, str]:
        """The names of those of `addresses` that chose one."""
        with self._db.read() as conn:
            return profiles.get_display_names(conn, addresses)

    def set_display_name(self, creator: Address, name: str) -> str:
        """Saves `creator`'s display name (surrounding spaces dropped) and returns it."""
        name = " ".join(name.split())
        if not 0 < len(name) <= MAX_DISPLAY_NAME:
            raise InvalidInput(f"a display name is 1-{MAX_DISPLAY_NAME} characters")
        # Control and format characters (bidi overrides, zero-width) would let a name pass for another.
        if any(unicodedata.category(char) in {"Cc", "Cf"} for char in name):
            raise InvalidInput("a display name has no control or invisible characters")
        with self._db.transaction() as conn:
            profiles.save_display_name(conn, creator, name, self._clock())
        return name

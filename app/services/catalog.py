"""Creators list what they sell."""

from __future__ import annotations

import re
import threading
import time

from app.core import access
from app.core.access import Access, AccessModel
from app.core.errors import InvalidInput, UnknownResource, UnknownToken
from app.core.types import UINT128_MAX, Address
from app.services.clock import Clock
from app.store import access as holdings
from app.store import catalog
from app.store.catalog import Resource, Token
from app.store.database import Database

_RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")
MAX_PASS_SECONDS = 366 * 24 * 3600  # a year: a longer pass is a purchase


class Resources:
    """What every pay reads and rarely changes, kept in memory: the resources by id.

    A resource saved in this process replaces its entry at once; one saved by another worker
    is seen within `ttl` seconds (a price or an activation is at most that stale, no more than
    the read outside the pay's transaction that this replaces). Unknown ids are not cached.
    """

    def __init__(self, db: Database, ttl: float = 1.0) -> None:
        self._db = db
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Resource]] = {}
        self._lock = threading.Lock()

    def cached(self, resource_id: str) -> Resource | None:
        """The resource if a fresh copy is in memory (no I/O: safe on an event loop), else None."""
        entry = self._entries.get(resource_id)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        return entry[1]

    def get(self, resource_id: str) -> Resource | None:
        """The resource, from memory or else from the database (and then kept)."""
        found = self.cached(resource_id)
        if found is not None:
            return found
        with self._db.read() as conn:
            found = catalog.get_resource(conn, resource_id)
        if found is not None:
            self.put(found)
        return found

    def put(self, resource: Resource) -> None:
        with self._lock:
            if len(self._entries) >= _MAX_CACHED:
                self._entries.clear()  # crude but bounded: ids are the creators', not the clients'
            self._entries[resource.id] = (time.monotonic(), resource)


_MAX_CACHED = 100_000


class Catalog:
    def __init__(self, db: Database, clock: Clock, resources: Resources | None = None) -> None:
        self._db = db
        self._clock = clock
        self._resources = resources

    def tokens(self) -> list[Token]:
        with self._db.read() as conn:
            return catalog.list_tokens(conn)

    def resource(self, resource_id: str) -> Resource | None:
        with self._db.read() as conn:
            return catalog.get_resource(conn, resource_id)

    def resources(
        self, *, payee: Address | None = None, after: str | None = None, limit: int = 50
    ) -> list[Resource]:
        with self._db.read() as conn:
            return catalog.list_resources(conn, payee=payee, after=after, limit=limit)

    def access(self, payer: Address, resource_id: str) -> tuple[Resource, Access]:
        """The resource and what `payer` holds of it now (app.core.access)."""
        with self._db.read() as conn:
            resource = catalog.get_resource(conn, resource_id)
            if resource is None:
                raise UnknownResource(f"no resource {resource_id!r}", resource=resource_id)
            latest = None
            if resource.access is not AccessModel.PER_USE:
                latest = holdings.latest_receipt(conn, payer, resource_id)
        return resource, access.access(resource.access, resource.pass_seconds, latest, self._clock())

    def save(
        self,
        creator: Address,
        resource_id: str,
        token: Address,
        price: int,
        title: str,
        description: str = "",
        access_model: AccessModel = AccessModel.PER_USE,
        pass_seconds: int = 0,
    ) -> Resource:
        """Lists a resource (or updates the creator's own listing). A resource id belongs to the
        creator who listed it first. A TIME_PASS lasts 1 second to a year; other models take no
        `pass_seconds`."""
        if not _RESOURCE_ID.fullmatch(resource_id):
            raise InvalidInput("a resource id is 1-128 characters: letters, digits and . _ : / -")
        if not 0 < price <= UINT128_MAX:
            raise InvalidInput(f"price must be between 1 and 2^128-1 base units, got {price}")
        if not title.strip() or len(title) > 200 or len(description) > 5000:
            raise InvalidInput("a title is 1-200 characters and a description at most 5000")
        if access_model is AccessModel.TIME_PASS and not 0 < pass_seconds <= MAX_PASS_SECONDS:
            raise InvalidInput(f"a time pass lasts 1 to {MAX_PASS_SECONDS} seconds, got {pass_seconds}")
        if access_model is not AccessModel.TIME_PASS and pass_seconds != 0:
            raise InvalidInput("passSeconds is only for a TIME_PASS")
        with self._db.transaction() as conn:
            if token not in {t.address for t in catalog.list_tokens(conn) if t.allowed}:
                raise UnknownToken(f"token {token} is not accepted by the hub")
            existing = catalog.get_resource(conn, resource_id)
            if existing is not None and existing.payee != creator:
                raise InvalidInput(f"resource id {resource_id!r} is taken by another creator")
            resource = Resource(
                id=resource_id,
                payee=creator,
                token=token,
                price=price,
                title=title.strip(),
                description=description,
                active=True,
                created_at=existing.created_at if existing else self._clock(),
                access=access_model,
                pass_seconds=pass_seconds,
            )
            catalog.save_resource(conn, resource)
        if self._resources is not None:
            self._resources.put(resource)
        return resource

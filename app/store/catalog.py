"""Creators' resources: what they sell, at what price."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select, update

from app.core.access import AccessModel
from app.core.types import Address
from app.store.tables import resources, tokens


@dataclass(frozen=True)
class Resource:
    id: str
    payee: Address
    token: Address
    price: int
    title: str
    description: str
    active: bool
    created_at: int
    access: AccessModel = AccessModel.PER_USE
    pass_seconds: int = 0  # how long one payment gives a TIME_PASS


@dataclass(frozen=True)
class Token:
    address: Address
    symbol: str
    name: str
    decimals: int
    allowed: bool


def get_resource(conn: Connection, resource_id: str) -> Resource | None:
    row = conn.execute(select(resources).where(resources.c.id == resource_id)).first()
    return None if row is None else _resource(row)


def get_resources(conn: Connection, resource_ids: set[str]) -> dict[str, Resource]:
    rows = conn.execute(select(resources).where(resources.c.id.in_(sorted(resource_ids))))
    return {row.id: _resource(row) for row in rows}


def list_resources(
    conn: Connection, *, payee: Address | None = None, after: str | None = None, limit: int = 50
) -> list[Resource]:
    query = select(resources).where(resources.c.active.is_(True))
    if payee is not None:
        query = query.where(resources.c.payee == payee)
    if after is not None:
        query = query.where(resources.c.id > after)
    return [_resource(row) for row in conn.execute(query.order_by(resources.c.id).limit(limit))]


def save_resource(conn: Connection, resource: Resource) -> None:
    """Creates the resource, or updates it when its creator already listed it under this id."""
    values = {
        "payee": resource.payee,
        "token": resource.token,
        "price": resource.price,
        "title": resource.title,
        "description": resource.description,
        "active": resource.active,
        "access": resource.access.value,
        "pass_seconds": resource.pass_seconds,
    }
    if conn.execute(select(resources.c.id).where(resources.c.id == resource.id)).first():
        conn.execute(update(resources).where(resources.c.id == resource.id).values(**values))
    else:
        conn.execute(resources.insert().values(id=resource.id, created_at=resource.created_at, **values))


def _resource(row: Row[Any]) -> Resource:
    return Resource(
        id=row.id,
        payee=row.payee,
        token=row.token,
        price=row.price,
        title=row.title,
        description=row.description,
        active=row.active,
        created_at=row.created_at,
        access=AccessModel(row.access),
        pass_seconds=row.pass_seconds,
    )


def list_tokens(conn: Connection) -> list[Token]:
    return [
        Token(address=r.address, symbol=r.symbol, name=r.name, decimals=r.decimals, allowed=r.allowed)
        for r in conn.execute(select(tokens).order_by(tokens.c.symbol))
    ]

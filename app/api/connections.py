"""Relay-style connections: `edges { cursor node }`, `pageInfo { hasNextPage endCursor }`.

A cursor is opaque to clients: base64 of the key the store pages by (a
receipt's sequence number, a resource's id).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from app.core.errors import InvalidInput

T = TypeVar("T")
K = TypeVar("K")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def page_size(first: int) -> int:
    """`first`, checked: 1 to MAX_PAGE_SIZE."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be from 1 to {MAX_PAGE_SIZE}, got {first}", first=first)
    return first


def encode_cursor(key: str | int) -> str:
    return base64.urlsafe_b64encode(str(key).encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidInput("after: not a cursor this API returned", after=cursor[:80]) from error


def decode_int_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    text = decode_cursor(cursor)
    if not text.isdigit() or len(text) > 20:
        raise InvalidInput("after: not a cursor this API returned", after=cursor[:80])
    return int(text)


def decode_str_cursor(cursor: str | None) -> str | None:
    return None if cursor is None else decode_cursor(cursor)


def connection(
    rows: Sequence[K], first: int, key: Callable[[K], str | int], node: Callable[[K], T]
) -> Connection[T]:
    """A page from `rows`, which holds up to first + 1 rows: the extra one says there is a next page."""
    page = rows[:first]
    edges = [Edge(cursor=encode_cursor(key(row)), node=node(row)) for row in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None),
    )

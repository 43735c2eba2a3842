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


@strawberry.type(description="Where a page ends, and whether another follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether there is another page after this one.")
    end_cursor: str | None = strawberry.field(
        description="Pass it as `after` for the next page; null on an empty page."
    )


@strawberry.type(description="One item of a page, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="An opaque cursor that points at this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (a Relay connection), in the order its field describes.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page ends, and whether another follows.")


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

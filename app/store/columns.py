"""Column types that keep amounts exact and bytes readable on both databases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class Uint256(TypeDecorator[int]):
    """An integer in [0, 2^256). NUMERIC(78, 0) on PostgreSQL; on SQLite, whose integers stop at
    2^63, a decimal string (exact, but compared and summed in Python, never in SQL)."""

    impl = String(78)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(String(78))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not 0 <= value < 2**256:
            raise OverflowError(f"{value} is not a uint256")
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class Hex(TypeDecorator[bytes]):
    """Bytes stored as lowercase 0x-hex text: readable in psql and sqlite3, same on both."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else "0x" + value.hex()

    def process_result_value(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes.fromhex(value[2:])

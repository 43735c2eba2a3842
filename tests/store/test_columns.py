"""Amounts stay exact up to 2^256-1 on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, Table, select

from app.store.columns import Hex, Uint256
from app.store.database import Database
from tests.e2e.servers import postgres_database

values = Table(
    "values_under_test",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("amount", Uint256),
    Column("blob", Hex),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'columns.db'}")
        values.create(db.engine)
        yield db
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        values.create(db.engine)
        yield db
        db.dispose()


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=st.integers(min_value=0, max_value=2**256 - 1), blob=st.binary(max_size=65))
def test_any_uint256_and_bytes_round_trip_exactly(database: Database, amount: int, blob: bytes) -> None:
    with database.transaction() as conn:
        conn.execute(values.delete())
        conn.execute(values.insert().values(id=1, amount=amount, blob=blob))
        row = conn.execute(select(values)).one()
    assert (row.amount, row.blob) == (amount, blob)


def test_a_negative_or_oversized_amount_is_never_stored(database: Database) -> None:
    for bad in (-1, 2**256):
        with pytest.raises(Exception, match="uint256"), database.transaction() as conn:
            conn.execute(values.insert().values(id=2, amount=bad, blob=b""))

"""The migrations build exactly the schema that app/store/tables.py describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.store.database import Database
from app.store.tables import metadata


def test_migrated_database_matches_the_tables(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'migrated.db'}")
    database.migrate()
    with database.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    database.dispose()
    assert differences == []


def test_migrating_twice_is_harmless(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'migrated.db'}")
    database.migrate()
    database.migrate()
    database.dispose()

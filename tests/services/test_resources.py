from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.types import Address
from app.services.catalog import Resources
from app.store import catalog
from app.store.catalog import Resource
from app.store.database import Database

CREATOR = Address("0x" + "aa" * 20)
TOKEN = Address("0x" + "bb" * 20)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    yield database
    database.dispose()


def make_resource(price: int = 100) -> Resource:
    return Resource("article", CREATOR, TOKEN, price, "An article", "", True, 0)


def test_a_resource_read_once_is_then_served_from_memory(db: Database) -> None:
    with db.transaction() as conn:
        catalog.save_resource(conn, make_resource())
    resources = Resources(db)
    assert resources.cached("article") is None
    assert resources.get("article") == make_resource()
    assert resources.cached("article") == make_resource()


def test_a_resource_put_replaces_what_memory_held(db: Database) -> None:
    resources = Resources(db)
    resources.put(make_resource(price=100))
    resources.put(make_resource(price=200))
    cached = resources.cached("article")
    assert cached is not None
    assert cached.price == 200


def test_an_entry_older_than_the_ttl_is_read_again(db: Database) -> None:
    resources = Resources(db, ttl=0)
    resources.put(make_resource(price=100))
    with db.transaction() as conn:
        catalog.save_resource(conn, make_resource(price=300))
    found = resources.get("article")
    assert found is not None
    assert found.price == 300


def test_an_unknown_resource_is_not_cached(db: Database) -> None:
    resources = Resources(db)
    assert resources.get("nothing") is None
    assert resources.cached("nothing") is None

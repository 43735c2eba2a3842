"""Access models in the acceptance transaction: a purchase or a running pass is never charged twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import update

from app.core.access import AccessModel
from app.core.errors import AlreadyOwned, Refusal
from app.core.receipts import Receipt
from app.core.types import to_address
from app.services.typed_data import TypedData
from app.store.database import Database
from app.store.tables import receipts
from tests.e2e.servers import postgres_database
from tests.services.test_acceptance import DOMAIN, NOW, TOKEN, Shop


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    with ExitStack() as stack:
        url = f"sqlite:///{tmp_path / 'shop.db'}"
        if request.param == "postgresql":
            url = stack.enter_context(postgres_database())
        yield from opened(url)


def opened(url: str) -> Iterator[Shop]:
    db = Database(url)
    db.migrate()
    shop = Shop(db)
    creator = shop.creators[0]
    shop.catalog.save(creator, "article-0", TOKEN, 10_000, "Bought once", access_model=AccessModel.PURCHASE)
    shop.catalog.save(
        shop.creators[1], "article-1", TOKEN, 20_000, "An hour", access_model=AccessModel.TIME_PASS,
        pass_seconds=3600,
    )  # fmt: skip
    yield shop
    shop.payments.close()
    db.dispose()


def test_a_purchase_paid_again_is_refused_with_the_first_receipt(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    first = shop.payments.pay(shop.request(reader, 0))
    with pytest.raises(AlreadyOwned) as refused:
        shop.payments.pay(shop.request(reader, 0))
    assert refused.value.fields["receipt"] == first.id
    assert shop.catalog.access(to_address(reader.address), "article-0")[1].receipt_id == first.id


def test_the_same_voucher_again_returns_its_receipt_not_a_refusal(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    request = shop.request(reader, 0)
    assert shop.payments.pay(request) == shop.payments.pay(request)


def test_two_pays_for_one_purchase_in_one_group_charge_once(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    results = shop.payments.pay_batch([shop.request(reader, 0, lane=0), shop.request(reader, 0, lane=1)])
    assert isinstance(results[0], Receipt)
    assert isinstance(results[1], AlreadyOwned)


def test_concurrent_pays_for_one_purchase_charge_once(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    requests = [shop.request(reader, 0, lane=lane) for lane in range(4)]
    outcomes: list[Receipt | Refusal] = []

    def pay(index: int) -> None:
        try:
            outcomes.append(shop.payments.pay(requests[index]))
        except Refusal as refusal:
            outcomes.append(refusal)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, Receipt) for o in outcomes) == 1
    assert sum(isinstance(o, AlreadyOwned) for o in outcomes) == 3


def test_a_running_pass_is_refused_and_an_ended_one_sells_the_next(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    first = shop.payments.pay(shop.request(reader, 1))
    with pytest.raises(AlreadyOwned) as refused:
        shop.payments.pay(shop.request(reader, 1))
    assert refused.value.fields["until"] == NOW + 3600
    with shop.db.transaction() as conn:  # the pass was bought an hour ago
        conn.execute(update(receipts).where(receipts.c.id == first.id).values(created_at=NOW - 3600))
    assert shop.payments.pay(shop.request(reader, 1)).price == 20_000


def test_voucher_to_sign_refuses_what_is_owned(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    shop.payments.pay(shop.request(reader, 0))
    typed = TypedData(shop.db, DOMAIN, lambda _: None, lambda _t, _o: 0, shop.clock)
    with pytest.raises(AlreadyOwned):
        typed.voucher(to_address(reader.address), "article-0")
    assert typed.voucher(to_address(reader.address), "article-2").resource.id == "article-2"


def test_per_use_is_charged_every_time(shop: Shop) -> None:
    reader = Account.create()
    shop.deposit(reader, 1_000_000)
    shop.payments.pay(shop.request(reader, 2))
    assert shop.payments.pay(shop.request(reader, 2)).lane_seq == 2

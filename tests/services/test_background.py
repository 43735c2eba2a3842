"""The leader's round of work, as Prometheus counts it: settlement batches, their lanes, and the gas
they used (on the FakeHub)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.services.background import Worker
from app.services.leadership import FileLeadership
from tests.builders import new_key
from tests.services.conftest import FakeWorld
from tests.services.test_settler import PRICE, creator, settler


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("fake_world", ["sqlite"], indirect=True)
def test_a_submitted_claim_counts_one_batch_its_lanes_and_the_gas_it_used(
    fake_world: FakeWorld, tmp_path: Path
) -> None:
    for payer in (new_key(), new_key()):
        fake_world.fund(payer, 100 * PRICE)
        for lane in range(2):
            fake_world.pay(payer, creator(lane), PRICE, lane=lane)
    s = settler(fake_world, min_batch=4, max_age=10**9)
    worker = Worker(FileLeadership(tmp_path / "leader.lock"), fake_world.indexer(), s.transactions, s, 1.0)
    batches = counted("micropayments_settlement_batches_total")
    lanes = counted("micropayments_settlement_lanes_total")
    mined = counted("micropayments_operator_transactions_total", kind="claim", status="mined")
    gas = counted("micropayments_operator_gas_used_total", kind="claim")

    worker.step()  # submits the claim of 4 lanes
    s.transactions.tick()

    assert counted("micropayments_settlement_batches_total") == batches + 1
    assert counted("micropayments_settlement_lanes_total") == lanes + 4
    assert counted("micropayments_operator_transactions_total", kind="claim", status="mined") == mined + 1
    assert counted("micropayments_operator_gas_used_total", kind="claim") > gas

"""The leader's round of work, as Prometheus counts it: settlement batches and the gas they used."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from app.services.background import Worker
from app.services.leadership import FileLeadership
from tests.services.conftest import World, new_payer
from tests.services.test_settler import pay_many, settler


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)
def test_a_submitted_claim_counts_one_batch_its_channels_and_the_gas_it_used(
    world: World, tmp_path: Path
) -> None:
    pay_many(world, [new_payer(), new_payer()], creators=2)
    s = settler(world, min_batch=4, max_age=10**9)
    worker = Worker(FileLeadership(tmp_path / "leader.lock"), world.services.indexer, s.transactions, s, 1.0)
    batches = counted("micropayments_settlement_batches_total")
    channels = counted("micropayments_settlement_channels_total")
    mined = counted("micropayments_operator_transactions_total", kind="claim", status="mined")
    gas = counted("micropayments_operator_gas_used_total", kind="claim")

    worker.step()  # submits the claim of 4 channels
    assert s.transactions.pending(), "the claim was not submitted"
    s.transactions.wait(s.transactions.pending()[0].nonce)

    assert counted("micropayments_settlement_batches_total") == batches + 1
    assert counted("micropayments_settlement_channels_total") == channels + 4
    assert counted("micropayments_operator_transactions_total", kind="claim", status="mined") == mined + 1
    assert counted("micropayments_operator_gas_used_total", kind="claim") > gas + 21_000

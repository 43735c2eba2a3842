"""The settlement commands of the CLI against the real v2 hub: `settle --once`, `reconcile`, and a
creator's exit with the server gone (`export-vouchers`, then `claim-exported` from any wallet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.core.types import to_address
from tests.builders import accept, address, new_key
from tests.services.conftest import World

pytestmark = pytest.mark.parametrize("world", ["sqlite"], indirect=True)


@pytest.fixture
def env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The CLI's environment: the world's chain, hub and database, the hub's operator key."""
    settings = world.services.settings
    monkeypatch.setenv("RPC_URL", settings.rpc_url)
    monkeypatch.setenv("HUB_ADDRESS", world.chain.hub.address)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("OPERATOR_KEY", world.chain.accounts[0].key.hex())
    return world


def test_settle_once_claims_every_lane_and_reconcile_accounts_for_it(
    env: World, capsys: pytest.CaptureFixture[str]
) -> None:
    payer, creator = env.chain.accounts[5], address(new_key())
    env.fund(payer.address, 10_000)
    for lane in range(3):
        accept(
            env.services.db,
            env.services.domain,
            env.chain.accounts[0],
            payer,
            env.token,
            creator,
            100,
            lane=lane,
        )
    assert main(["settle", "--once"]) == 0
    assert "3 lanes" in capsys.readouterr().out
    assert env.chain.earnings(creator) == 300
    assert main(["reconcile"]) == 0


def test_a_creator_claims_its_exported_vouchers_with_its_own_key(
    env: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payer, creator = env.chain.accounts[6], env.chain.accounts[8]
    env.fund(payer.address, 10_000)
    for price in (100, 250):
        accept(env.services.db, env.services.domain, env.chain.accounts[0], payer, env.token,
               to_address(creator.address), price)  # fmt: skip
    exported = tmp_path / "vouchers.json"
    assert main(["export-vouchers", "--payee", creator.address, "--out", str(exported)]) == 0
    assert len(json.loads(exported.read_text())["claims"]) == 1  # the lane's latest voucher
    monkeypatch.setenv("CLAIMER_KEY", creator.key.hex())
    before = env.chain.usdc.functions.balanceOf(creator.address).call()
    assert main(["claim-exported", "--file", str(exported), "--rpc-url", env.services.settings.rpc_url,
                 "--withdraw"]) == 0  # fmt: skip
    assert env.chain.usdc.functions.balanceOf(creator.address).call() == before + 350

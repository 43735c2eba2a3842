"""Money end to end: pays through the API, batch settlement, creators and payers withdraw, and
every base unit is accounted for; then the same without any server at all."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from tests.e2e.conftest import PAY, open_marketplace, pay_input, server_env
from tests.e2e.servers import ROOT, Server
from tests.factories import Chain

PRICE = 1_000
ACTIONS = 1_000


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def pay_in_sequence(url: str, channels: list[list[dict[str, Any]]]) -> list[str]:
    """Each channel's vouchers one after another (each builds on the last); channels in parallel."""

    async def channel(client: httpx.AsyncClient, inputs: list[dict[str, Any]]) -> list[str]:
        kinds = []
        for item in inputs:
            response = await client.post(url + "/graphql", json={"query": PAY, "variables": {"input": item}})
            kinds.append(response.json()["data"]["pay"]["__typename"])
        return kinds

    async with httpx.AsyncClient(timeout=60) as client:
        results = await asyncio.gather(*(channel(client, inputs) for inputs in channels))
    return [kind for kinds in results for kind in kinds]


def withdraw_everything(chain: Chain, payers: list[LocalAccount]) -> None:
    for payer in payers:
        chain.fund_eth(payer.address)
        balance = chain.balance(payer.address)
        chain.send_signed(chain.hub.functions.requestWithdrawal(chain.usdc.address, balance), payer)
    chain.increase_time(3600)
    for payer in payers:
        chain.send_signed(chain.hub.functions.withdraw(chain.usdc.address), payer)


def test_three_payers_three_creators_a_thousand_actions_each_are_all_accounted_for(
    chain: Chain, tmp_path: Path
) -> None:
    creators, operator = chain.accounts[7:10], chain.accounts[6]
    env = {
        **server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path)),
        "OPERATOR_KEY": operator.key.hex(),
        "SETTLE": "false",  # settled below by the operator's command, so the test controls when
    }
    deposit = len(creators) * ACTIONS * PRICE + 500_000
    market = open_marketplace(chain, env, 3, list(creators), PRICE, deposit=deposit)
    channels = [
        [pay_input(chain, payer, index, creator.address, k * PRICE) for k in range(1, ACTIONS + 1)]
        for payer in market.payers
        for index, creator in enumerate(creators)
    ]
    server = Server(env, tmp_path / "server.log").start()
    try:
        kinds = asyncio.run(pay_in_sequence(server.url, channels))
    finally:
        server.stop()
    assert kinds == ["PaymentAccepted"] * (9 * ACTIONS)

    settled = run_cli(env, "settle", "--once")
    assert settled.returncode == 0, settled.stderr
    assert "9 channels" in settled.stdout

    earned = len(market.payers) * ACTIONS * PRICE
    for creator in creators:
        before = chain.usdc.functions.balanceOf(creator.address).call()
        chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, creator.address), creator)
        assert chain.usdc.functions.balanceOf(creator.address).call() - before == earned
    withdraw_everything(chain, market.payers)

    reconciled = run_cli(env, "reconcile")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    [report] = json.loads(reconciled.stdout)
    total_deposits = 3 * deposit
    assert int(report["deposits"]) >= total_deposits
    assert int(report["deposits"]) == (
        int(report["withdrawals"])
        + int(report["earnings_paid"])
        + int(report["balances_left"])
        + int(report["earnings_left"])
    )
    assert int(report["holdings"]) == int(report["balances_left"]) + int(report["earnings_left"])


def test_with_the_server_gone_creators_claim_exported_vouchers_and_payers_withdraw(
    chain: Chain, tmp_path: Path
) -> None:
    creator = chain.accounts[9]
    data_dir = tmp_path / "server-data"
    env = server_env(chain, f"sqlite:///{data_dir / 'micropayments.db'}", str(data_dir))
    market = open_marketplace(chain, env, 2, [creator], PRICE, deposit=100 * PRICE)
    channels = [
        [pay_input(chain, payer, 0, creator.address, k * PRICE) for k in range(1, 21)]
        for payer in market.payers
    ]
    server = Server(env, tmp_path / "server.log").start()
    try:
        assert asyncio.run(pay_in_sequence(server.url, channels)) == ["PaymentAccepted"] * 40
    finally:
        server.stop()
    exported = tmp_path / "my-vouchers.json"
    done = run_cli(env, "export-vouchers", "--payee", creator.address, "--out", str(exported))
    assert done.returncode == 0, done.stderr

    shutil.rmtree(data_dir)  # the server, its database and its keys are gone

    before = chain.usdc.functions.balanceOf(creator.address).call()
    no_server = {"RPC_URL": env["RPC_URL"], "CLAIMER_KEY": creator.key.hex()}
    claimed = run_cli(no_server, "claim-exported", "--file", str(exported), "--withdraw")
    assert claimed.returncode == 0, claimed.stdout + claimed.stderr
    assert chain.usdc.functions.balanceOf(creator.address).call() - before == 2 * 20 * PRICE
    withdraw_everything(chain, market.payers)
    for payer in market.payers:
        assert chain.usdc.functions.balanceOf(payer.address).call() == 100 * PRICE - 20 * PRICE

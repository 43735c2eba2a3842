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

from eth_account.signers.local import LocalAccount

from app.core.types import to_address
from tests.e2e.conftest import Vouchers, acknowledged_by, open_marketplace, send_all, server_env
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


def paid_in_full(url: str, lanes: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Sends each lane's pays in order (lanes in parallel); asserts every one was accepted and
    returns the receipts, in the order of the lanes and their pays."""
    results = asyncio.run(send_all([url], lanes, concurrency=len(lanes)))
    assert [r and r["__typename"] for r in results] == ["PaymentAccepted"] * len(results)
    return [r["receipt"] for r in results if r]


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
    creators = chain.accounts[7:10]
    # The server does not settle by itself: the operator's command below does, when the test says.
    env = server_env(chain, f"sqlite:///{tmp_path / 'micropayments.db'}", str(tmp_path))
    deposit = len(creators) * ACTIONS * PRICE + 500_000
    market = open_marketplace(chain, env, 3, list(creators), PRICE, deposit=deposit)
    # Each payer's wallet pays the three creators in turn on its one lane: 3,000 vouchers, each the
    # last vector with one creator's amount raised.
    vouchers = Vouchers(chain)
    lanes = [
        [vouchers.pay_input(payer, 0, k % 3, creators[k % 3].address, PRICE) for k in range(3 * ACTIONS)]
        for payer in market.payers
    ]
    server = Server(env, tmp_path / "server.log").start()
    try:
        receipts = paid_in_full(server.url, lanes)
    finally:
        server.stop()
    pays = [pay for lane in lanes for pay in lane]
    acknowledgers = {acknowledged_by(vouchers.domain, p, r) for p, r in zip(pays, receipts, strict=True)}
    assert acknowledgers == {to_address(chain.owner.address)}
    assert {int(r["cumulativeAmount"]) for r in receipts[-3:]} == {ACTIONS * PRICE}

    settled = run_cli(env, "settle", "--once")
    assert settled.returncode == 0, settled.stderr
    assert "3 lanes" in settled.stdout

    earned = len(market.payers) * ACTIONS * PRICE
    for creator in creators:
        before = chain.usdc.functions.balanceOf(creator.address).call()
        chain.send(chain.hub.functions.withdrawEarnings(chain.usdc.address, creator.address), creator)
        assert chain.usdc.functions.balanceOf(creator.address).call() - before == earned
    withdraw_everything(chain, market.payers)
    spent = len(creators) * ACTIONS * PRICE
    for payer in market.payers:  # charged exactly what was acknowledged, once
        assert chain.usdc.functions.balanceOf(payer.address).call() == deposit - spent

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
    creator, other = chain.accounts[9], chain.accounts[8]
    data_dir = tmp_path / "server-data"
    env = server_env(chain, f"sqlite:///{data_dir / 'micropayments.db'}", str(data_dir))
    market = open_marketplace(chain, env, 2, [creator, other], PRICE, deposit=100 * PRICE)
    # Each payer's one lane pays the creator 20 times and another creator 10 times.
    vouchers = Vouchers(chain)
    lanes = [
        [
            vouchers.pay_input(payer, 0, 0, creator.address, PRICE)
            if k % 3
            else vouchers.pay_input(payer, 0, 1, other.address, PRICE)
            for k in range(30)
        ]
        for payer in market.payers
    ]
    server = Server(env, tmp_path / "server.log").start()
    try:
        paid_in_full(server.url, lanes)
    finally:
        server.stop()
    exported = tmp_path / "my-vouchers.json"
    done = run_cli(env, "export-vouchers", "--payee", creator.address, "--out", str(exported))
    assert done.returncode == 0, done.stderr
    assert [c["entries"] for c in json.loads(exported.read_text())["claims"]] == [
        lane[-1]["entries"] for lane in lanes
    ]

    shutil.rmtree(data_dir)  # the server, its database and its keys are gone

    before = chain.usdc.functions.balanceOf(creator.address).call()
    no_server = {"RPC_URL": env["RPC_URL"], "CLAIMER_KEY": "0x" + bytes(creator.key).hex()}
    claimed = run_cli(no_server, "claim-exported", "--file", str(exported), "--withdraw")
    assert claimed.returncode == 0, claimed.stdout + claimed.stderr
    assert chain.usdc.functions.balanceOf(creator.address).call() - before == 2 * 20 * PRICE
    # The claim paid each lane's whole vector: the other creator's share too.
    assert chain.earnings(other.address) == 2 * 10 * PRICE
    withdraw_everything(chain, market.payers)
    for payer in market.payers:
        assert chain.usdc.functions.balanceOf(payer.address).call() == 100 * PRICE - 30 * PRICE

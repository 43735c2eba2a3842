"""Shared fixtures: one fresh anvil per test session, the hub and a test
stablecoin deployed once, and every test run inside an EVM snapshot that is
reverted afterwards, so tests never see each other's state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import settings
from web3 import Web3
from web3.contract import Contract

from app.chain.anvil import DEV_KEYS, Anvil
from app.chain.deploy import contract, deploy_contract, deploy_hub, transact

if TYPE_CHECKING:
    from tests.factories import Chain

# Chain round trips make examples slow and uneven: no per-example deadline. CI
# runs a fixed, reproducible set of examples so a red build can be replayed.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

WITHDRAW_DELAY = 3600
INITIAL_FUNDS = 1_000_000 * 10**6  # 1,000,000 test USDC per account


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    log_path = Path(tmp_path_factory.mktemp("anvil")) / "anvil.log"
    with Anvil(accounts=len(DEV_KEYS), log_path=log_path) as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 60}))


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    """anvil's funded dev accounts: [0] deploys and owns the hub; the rest are payers and payees."""
    return [Account.from_key(key) for key in DEV_KEYS]


@pytest.fixture(scope="session")
def deployed(w3: Web3, accounts: list[LocalAccount]) -> Chain:
    # Imported here: tests that never touch the chain run while tests.factories is mid-way to v2.
    from tests.factories import Chain

    owner = accounts[0].address
    usdc, _ = deploy_contract(w3, "TestStablecoin", sender=owner)
    for account in accounts:
        transact(w3, usdc.functions.mint(account.address, INITIAL_FUNDS), owner)
    deployment = deploy_hub(w3, owner, [usdc.address], withdraw_delay=WITHDRAW_DELAY)
    hub = contract(w3, "MicropaymentHub", deployment.hub)
    return Chain(w3=w3, hub=hub, usdc=usdc, accounts=accounts, deployment=deployment)


@pytest.fixture(autouse=True)
def _isolated_chain(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reverts every chain change a test made (only for tests that use the chain)."""
    if "chain" not in request.fixturenames:
        yield
        return
    chain: Chain = request.getfixturevalue("chain")
    snapshot = chain.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    chain.w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


@pytest.fixture
def chain(deployed: Chain) -> Chain:
    return deployed


@pytest.fixture
def hub(chain: Chain) -> Contract:
    return chain.hub


@pytest.fixture
def usdc(chain: Chain) -> Contract:
    return chain.usdc

"""Deploys the hub, and on a local chain a test stablecoin with funded accounts.

The result is a `Deployment`, written as JSON where the server reads it
(`$DATA_DIR/deployment.json` by default).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from app.chain import artifacts
from app.core.types import Address, to_address

log = logging.getLogger(__name__)

DEFAULT_WITHDRAW_DELAY = 24 * 3600


@dataclass(frozen=True)
class Deployment:
    """Where the protocol lives on one chain."""

    chain_id: int
    hub: Address
    tokens: list[Address]
    deployed_at_block: int
    withdraw_delay: int
    operator: Address | None = None  # the hub's operator at deployment (None in files written before v2)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Deployment:
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(
            chain_id=int(data["chain_id"]),
            hub=to_address(data["hub"]),
            tokens=[to_address(t) for t in data["tokens"]],
            deployed_at_block=int(data["deployed_at_block"]),
            withdraw_delay=int(data["withdraw_delay"]),
            operator=to_address(data["operator"]) if data.get("operator") else None,
        )


def contract(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for a compiled contract at `address`."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifacts.load(name).abi)


def deploy_contract(w3: Web3, name: str, *args: Any, sender: str) -> tuple[Contract, int]:
    """Deploys a compiled contract; returns it and the block it was mined in."""
    artifact = artifacts.load(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying {name} failed in transaction {tx_hash.hex()}")
    address = receipt["contractAddress"]
    assert address is not None  # a successful creation receipt always names the contract
    log.info(
        "deployed %s at %s (block %s, gas %s)", name, address, receipt["blockNumber"], receipt["gasUsed"]
    )
    return contract(w3, name, address), int(receipt["blockNumber"])


def transact(w3: Web3, call: Any, sender: str) -> Any:
    """Sends a contract call and waits for a successful receipt."""
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {receipt['transactionHash'].hex()} reverted")
    return receipt


def deploy_hub(
    w3: Web3,
    sender: str,
    tokens: list[str],
    withdraw_delay: int = DEFAULT_WITHDRAW_DELAY,
    owner: str | None = None,
    operator: str | None = None,
) -> Deployment:
    """Deploys the hub with `operator` (default: `sender`) as the key that acknowledges vouchers and
    sends claims, allow-lists `tokens`, then hands ownership to `owner` (two-step)."""
    operator = Web3.to_checksum_address(operator or sender)
    hub, block = deploy_contract(w3, "MicropaymentHub", sender, operator, withdraw_delay, sender=sender)
    for token in tokens:
        transact(w3, hub.functions.setTokenAllowed(Web3.to_checksum_address(token), True), sender)
    if owner and Web3.to_checksum_address(owner) != Web3.to_checksum_address(sender):
        transact(w3, hub.functions.transferOwnership(Web3.to_checksum_address(owner)), sender)
        log.info("ownership offered to %s: it must call acceptOwnership()", owner)
    return Deployment(
        chain_id=w3.eth.chain_id,
        hub=to_address(hub.address),
        tokens=[to_address(t) for t in tokens],
        deployed_at_block=block,
        withdraw_delay=withdraw_delay,
        operator=to_address(operator),
    )


def deploy_local(
    w3: Web3,
    sender: str,
    fund: list[str],
    amount: int = 1_000 * 10**6,
    withdraw_delay: int = DEFAULT_WITHDRAW_DELAY,
    operator: str | None = None,
) -> Deployment:
    """For a development chain: a TestStablecoin, the hub allowing it, `amount` minted to each of `fund`.
    The operator defaults to `sender`, the dev stack's deployer and server key."""
    token, _ = deploy_contract(w3, "TestStablecoin", sender=sender)
    for account in fund:
        transact(w3, token.functions.mint(Web3.to_checksum_address(account), amount), sender)
    return deploy_hub(w3, sender, [token.address], withdraw_delay, operator=operator)

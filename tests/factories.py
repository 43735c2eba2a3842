"""Small factories and helpers for tests: sign EIP-712 messages, send claims,
send transactions, read events, expect exact custom errors."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from app.chain.deploy import Deployment, contract, deploy_contract
from app.core.claims import ClaimBlock, encode_claim
from app.core.eip712 import Domain, Signable, digest
from app.core.types import to_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# SkipReason in IMicropaymentHub, in declaration order (the order the hub checks them).
SKIP_REASONS = [
    "EntriesInvalid",
    "PreviousMismatch",
    "NothingDue",
    "NotAcknowledged",
    "BadSignature",
    "GrantInvalid",
    "SignerExpired",
    "SignerRevoked",
    "CapExceeded",
    "InsufficientBalance",
]


def skip_reason(name: str) -> int:
    return SKIP_REASONS.index(name)


def sign_digest(key: str | bytes, message_digest: bytes) -> bytes:
    """A 65-byte r || s || v (v = 27 or 28) ECDSA signature, as wallets produce."""
    signed = Account.unsafe_sign_hash(message_digest, key)
    return signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])


def to_compact(signature: bytes) -> bytes:
    """The EIP-2098 64-byte form (r, yParity << 255 | s) of a 65-byte signature."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + ((v - 27) << 255 | s).to_bytes(32, "big")


def to_high_s(signature: bytes) -> bytes:
    """The malleated twin of a signature: s -> n - s and v flipped; ecrecover gives the same signer."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def sign(key: str | bytes, domain: Domain, message: Signable) -> bytes:
    """A 65-byte signature of the message's EIP-712 digest in `domain`."""
    return sign_digest(key, digest(domain, message))


def new_key() -> LocalAccount:
    """A fresh random account (a session key, or a payer funded by a test)."""
    return Account.from_key(os.urandom(32))


def error_data(abi: list[dict[str, Any]], name: str, *args: Any) -> str:
    """The revert data of a custom error: selector then ABI-encoded arguments."""
    for item in abi:
        if item.get("type") == "error" and item["name"] == name:
            types = [i["type"] for i in item["inputs"]]
            selector = keccak(text=f"{name}({','.join(types)})")[:4]
            return "0x" + (selector + encode(types, list(args))).hex()
    raise KeyError(f"no error {name} in the ABI")


@contextmanager
def reverts_with(target: Contract, name: str, *args: Any) -> Iterator[None]:
    """Asserts that the block raises exactly the custom error `name(args)` declared in `target`'s ABI."""
    expected = error_data(target.abi, name, *args)
    with pytest.raises(ContractLogicError) as caught:
        yield
    got = caught.value.data if isinstance(caught.value, ContractCustomError) else repr(caught.value)
    assert got == expected, f"expected {name}{args} ({expected}), got {got}"


@dataclass
class Chain:
    """The local chain of a test session with the hub and its test stablecoin."""

    w3: Web3
    hub: Contract
    usdc: Contract
    accounts: list[LocalAccount]
    deployment: Deployment

    @property
    def owner(self) -> LocalAccount:
        return self.accounts[0]

    @property
    def domain(self) -> Domain:
        return Domain(chain_id=self.w3.eth.chain_id, hub=to_address(self.hub.address))

    def send(self, call: Any, sender: LocalAccount | str) -> TxReceipt:
        """Sends a contract call from an anvil dev account (or any address anvil impersonates)."""
        address = sender if isinstance(sender, str) else sender.address
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact({"from": address}))
        assert receipt["status"] == 1, f"transaction reverted: {receipt}"
        return receipt

    def send_signed(self, call: Any, sender: LocalAccount) -> TxReceipt:
        """Sends a contract call signed locally by an account anvil does not know (e.g. new_key())."""
        tx = call.build_transaction(
            {"from": sender.address, "nonce": self.w3.eth.get_transaction_count(sender.address)}
        )
        raw = sender.sign_transaction(tx).raw_transaction
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_raw_transaction(raw))
        assert receipt["status"] == 1, f"transaction reverted: {receipt}"
        return receipt

    def fund_eth(self, address: str, wei: int = 10**18) -> None:
        self.w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]

    def deploy(self, name: str, *args: Any) -> Contract:
        """Deploys a compiled contract (mocks included) from the owner account."""
        deployed, _ = deploy_contract(self.w3, name, *args, sender=self.owner.address)
        return deployed

    def at(self, name: str, address: str) -> Contract:
        return contract(self.w3, name, address)

    def allow_token(self, token: Contract | str, allowed: bool = True) -> None:
        address = token if isinstance(token, str) else token.address
        self.send(self.hub.functions.setTokenAllowed(address, allowed), self.owner)

    def deposit(self, payer: LocalAccount, amount: int, token: Contract | None = None) -> TxReceipt:
        token = token or self.usdc
        self.send(token.functions.approve(self.hub.address, amount), payer)
        return self.send(self.hub.functions.deposit(token.address, amount), payer)

    def claim(
        self, blocks: Sequence[ClaimBlock], sender: LocalAccount | None = None, token: Contract | None = None
    ) -> TxReceipt:
        """Sends `claim(token, encode_claim(blocks))`, from the operator (the owner) by default."""
        data = encode_claim(blocks)
        return self.send(self.hub.functions.claim((token or self.usdc).address, data), sender or self.owner)

    def events(self, receipt: TxReceipt, name: str, source: Contract | None = None) -> list[dict[str, Any]]:
        """Decoded arguments of each `name` event that `source` (the hub by default) emitted."""
        event = getattr((source or self.hub).events, name)()
        return [dict(log["args"]) for log in event.process_receipt(receipt, errors=DISCARD)]

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def increase_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def balance(self, payer: str, token: Contract | None = None) -> int:
        return int(self.hub.functions.balanceOf(payer, (token or self.usdc).address).call())

    def earnings(self, payee: str, token: Contract | None = None) -> int:
        return int(self.hub.functions.earningsOf(payee, (token or self.usdc).address).call())

    def commitment(self, payer: str, lane: int = 0, token: Contract | None = None) -> bytes:
        return bytes(self.hub.functions.laneCommitment(payer, (token or self.usdc).address, lane).call())

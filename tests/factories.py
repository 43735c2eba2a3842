"""Small factories and helpers for tests: sign vouchers, build claim rows,
send transactions, read events, expect exact custom errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
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
from app.core.eip712 import Domain, SignerAuthorization, Voucher, digest
from app.core.types import to_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# SkipReason in IMicropaymentHub, in declaration order.
SKIP_REASONS = [
    "UnknownToken",
    "InvalidPayee",
    "AmountTooLarge",
    "NothingDue",
    "BadSignature",
    "SignerWrongToken",
    "SignerExpired",
    "SignerRevoked",
    "SignerExhausted",
    "NoBalance",
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


def make_voucher(**overrides: Any) -> Voucher:
    """A voucher with harmless defaults; pass the fields a test cares about."""
    defaults = Voucher(
        payer=to_address("0x" + "11" * 20),
        payee=to_address("0x" + "22" * 20),
        token=to_address("0x" + "33" * 20),
        cumulative_amount=1_000,
        purchase=keccak(b"article-1"),
    )
    return replace(defaults, **overrides)


def claim_row(voucher: Voucher, signature: bytes) -> tuple[Any, ...]:
    """One `Claim` struct for hub.claim(...)."""
    return (
        voucher.payer,
        voucher.payee,
        voucher.token,
        voucher.cumulative_amount,
        voucher.purchase,
        signature,
    )


def auth_tuple(auth: SignerAuthorization) -> tuple[Any, ...]:
    return (auth.payer, auth.signer, auth.token, auth.allowance, auth.valid_until, auth.nonce)


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

    def voucher(self, payer: LocalAccount, payee: str, cumulative_amount: int, **overrides: Any) -> Voucher:
        fields: dict[str, Any] = {
            "payer": to_address(payer.address),
            "payee": to_address(payee),
            "token": to_address(self.usdc.address),
            "cumulative_amount": cumulative_amount,
        }
        fields.update(overrides)
        return make_voucher(**fields)

    def sign_voucher(self, key: LocalAccount, voucher: Voucher, domain: Domain | None = None) -> bytes:
        return sign_digest(key.key, digest((domain or self.domain).separator, voucher.struct_hash()))

    def signed_row(
        self, payer: LocalAccount, payee: str, cumulative_amount: int, **overrides: Any
    ) -> tuple[Any, ...]:
        """A claim row for a voucher the payer signed itself."""
        voucher = self.voucher(payer, payee, cumulative_amount, **overrides)
        return claim_row(voucher, self.sign_voucher(payer, voucher))

    def claim(self, rows: list[tuple[Any, ...]], sender: LocalAccount | None = None) -> TxReceipt:
        return self.send(self.hub.functions.claim(rows), sender or self.owner)

    def authorize_signer(
        self,
        payer: LocalAccount,
        signer: str,
        allowance: int,
        valid_until: int | None = None,
        nonce: int = 0,
        token: str | None = None,
    ) -> SignerAuthorization:
        """Signs a SignerAuthorization with the payer's key and registers it (relayed by the owner)."""
        auth = SignerAuthorization(
            payer=to_address(payer.address),
            signer=to_address(signer),
            token=to_address(token or self.usdc.address),
            allowance=allowance,
            valid_until=valid_until if valid_until is not None else self.timestamp() + 86_400,
            nonce=nonce,
        )
        signature = sign_digest(payer.key, digest(self.domain.separator, auth.struct_hash()))
        self.send(self.hub.functions.registerSigner(auth_tuple(auth), signature), self.owner)
        return auth

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

    def claimed(self, payer: str, payee: str, token: Contract | None = None) -> int:
        channel = self.hub.functions.channelId(payer, payee, (token or self.usdc).address).call()
        return int(self.hub.functions.claimed(channel).call())

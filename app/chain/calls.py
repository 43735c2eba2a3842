"""Calldata for hub functions, for transactions that users' wallets send themselves
(withdrawals, earnings, a creator's own claim) and for the operator's own.

The v2 functions are written here by hand, so that the server's calls do not depend on the
compiled artifact; any other function is looked up in the artifact."""

from __future__ import annotations

from functools import cache
from typing import Any

from eth_abi.abi import encode
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from app.chain import artifacts
from app.core.keccak import keccak

HUB_FUNCTIONS: dict[str, list[str]] = {
    "claim": ["address", "bytes"],
    "authorizeSigner": ["address"],
    "revokeSigner": ["address"],
    "deposit": ["address", "uint256"],
    "depositFor": ["address", "address", "uint256"],
    "requestWithdrawal": ["address", "uint256"],
    "cancelWithdrawal": ["address"],
    "withdraw": ["address"],
    "withdrawEarnings": ["address", "address"],
}


def selector(function: str) -> bytes:
    """The 4-byte selector of one of HUB_FUNCTIONS."""
    return keccak(f"{function}({','.join(HUB_FUNCTIONS[function])})".encode())[:4]


@cache
def _hub_abi_contract() -> type[Contract]:
    return Web3().eth.contract(abi=artifacts.load("MicropaymentHub").abi)


def hub_calldata(function: str, *args: Any) -> bytes:
    """ABI-encoded call of hub.`function`(*args); no node needed."""
    if function in HUB_FUNCTIONS:
        return selector(function) + encode(HUB_FUNCTIONS[function], list(args))
    return bytes(HexBytes(_hub_abi_contract().encode_abi(function, args=list(args))))


def claim_calldata(token: str, data: bytes) -> bytes:
    """`claim(token, data)` with the packed claim blocks of app.core.claims."""
    return hub_calldata("claim", token, data)

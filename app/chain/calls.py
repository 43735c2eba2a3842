"""Calldata for hub functions, for transactions that users' wallets send themselves
(withdrawals, earnings) and for the operator's own."""

from __future__ import annotations

from functools import cache
from typing import Any

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from app.chain import artifacts


@cache
def _hub_abi_contract() -> type[Contract]:
    return Web3().eth.contract(abi=artifacts.load("MicropaymentHub").abi)


def hub_calldata(function: str, *args: Any) -> bytes:
    """ABI-encoded call of hub.`function`(*args); no node needed."""
    return bytes(HexBytes(_hub_abi_contract().encode_abi(function, args=list(args))))

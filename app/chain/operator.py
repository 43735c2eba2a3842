"""The operator's hot key, at the level of single transactions: encode a hub call, simulate it,
price it, sign it, broadcast it, and look for its receipt. Which nonce to use, when to bump
fees and when to broadcast again is decided by app.services.transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

from eth_abi.abi import decode
from eth_account import Account
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.types import TxParams

from app.chain import artifacts
from app.chain.calls import hub_calldata
from app.chain.hub import _node
from app.core.types import Address, to_address

DEFAULT_PRIORITY_FEE = 10**9  # 1 gwei, when the node cannot suggest one


class Reverted(Exception):
    """The hub (or the token it called) would revert with `error(*args)`."""

    def __init__(self, error: str, args: tuple[Any, ...]) -> None:
        super().__init__(f"{error}{args}")
        self.error = error
        self.args_ = args


@dataclass(frozen=True)
class Call:
    """A call to the hub: what a transaction sends."""

    to: Address
    data: bytes
    name: str


class Broadcast(Enum):
    SENT = "sent"
    KNOWN = "known"  # the node already has this exact transaction
    UNDERPRICED = "underpriced"  # fees too low for the node, or to replace the pending one
    NONCE_USED = "nonce_used"  # a transaction with this nonce is already mined


@dataclass(frozen=True)
class Mined:
    block_number: int
    success: bool
    gas_used: int


class Operator:
    def __init__(self, w3: Web3, hub_address: str, private_key: str) -> None:
        self._w3 = w3
        self._account = Account.from_key(private_key)
        abi = artifacts.load("MicropaymentHub").abi
        self._hub = w3.eth.contract(address=Web3.to_checksum_address(hub_address), abi=abi)
        self._errors = _error_decoders(abi)

    @classmethod
    def connect(cls, rpc_url: str, hub_address: str, private_key: str, timeout: float = 30) -> Operator:
        provider = Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        return cls(Web3(provider), hub_address, private_key)

    @property
    def address(self) -> Address:
        return to_address(self._account.address)

    # ----------------------------------------------------------------- calls

    def encode(self, function: str, *args: Any) -> Call:
        return Call(to=to_address(self._hub.address), data=hub_calldata(function, *args), name=function)

    def simulate(self, call: Call) -> None:
        """Raises Reverted with the hub's error if the call would revert now."""
        try:
            with _node(f"simulating {call.name}"):
                self._w3.eth.call(self._params(call))
        except ContractLogicError as error:
            raise self._reverted(error) from error

    def estimate_gas(self, call: Call) -> int:
        try:
            with _node(f"estimating gas of {call.name}"):
                return int(self._w3.eth.estimate_gas(self._params(call)))
        except ContractLogicError as error:
            raise self._reverted(error) from error

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas): room for the base fee to double, plus a tip."""
        with _node("reading fees"):
            base = int(self._w3.eth.get_block("latest").get("baseFeePerGas", 0))
            try:
                tip = int(self._w3.eth.max_priority_fee)
            except Web3RPCError:
                tip = DEFAULT_PRIORITY_FEE
        tip = max(tip, 1)
        return 2 * base + tip, tip

    def nonce(self, block: str = "latest") -> int:
        with _node("reading the operator's nonce"):
            return int(self._w3.eth.get_transaction_count(self._account.address, block))  # type: ignore[arg-type]

    def sign(self, call: Call, nonce: int, gas: int, max_fee: int, priority_fee: int) -> tuple[bytes, bytes]:
        """(raw signed transaction, its hash)."""
        with _node("reading the chain id"):
            chain_id = self._w3.eth.chain_id
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce,
            "to": call.to,
            "data": call.data,
            "value": 0,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": priority_fee,
        }
        signed = self._account.sign_transaction(tx)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def broadcast(self, raw: bytes) -> Broadcast:
        try:
            with _node("broadcasting a transaction"):
                self._w3.eth.send_raw_transaction(raw)
        except Exception as error:  # the node's words are all we have to tell these apart
            text = str(error).lower()
            if "already known" in text or "already imported" in text or "known transaction" in text:
                return Broadcast.KNOWN
            if "underpriced" in text or "fee too low" in text or "less than block base fee" in text:
                return Broadcast.UNDERPRICED
            if "nonce too low" in text or "nonce is too low" in text:
                return Broadcast.NONCE_USED
            raise
        return Broadcast.SENT

    def receipt(self, tx_hash: bytes) -> Mined | None:
        with _node("reading a receipt"):
            try:
                receipt = self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:  # a Web3RPCError too: catch it before _node does
                return None
        return Mined(int(receipt["blockNumber"]), receipt["status"] == 1, int(receipt["gasUsed"]))

    def is_pending(self, tx_hash: bytes) -> bool:
        """Whether the node still knows the transaction (in its pool or mined)."""
        with _node("looking up a transaction"):
            try:
                self._w3.eth.get_transaction(HexBytes(tx_hash))
            except TransactionNotFound:
                return False
        return True

    def send_now(self, call: Call, timeout: float = 120) -> Mined:
        """Simulates, sends with the node's pending nonce and waits for the receipt. For one-off
        commands a person runs (a creator claiming exported vouchers); the server's own
        transactions go through app.services.transactions instead."""
        self.simulate(call)
        gas = self.estimate_gas(call) * 5 // 4
        max_fee, tip = self.fees()
        raw, tx_hash = self.sign(call, self.nonce("pending"), gas, max_fee, tip)
        self.broadcast(raw)
        with _node("waiting for a receipt"):
            self._w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=timeout)
        mined = self.receipt(tx_hash)
        assert mined is not None
        return mined

    def _params(self, call: Call) -> TxParams:
        return cast(TxParams, {"from": self._account.address, "to": call.to, "data": HexBytes(call.data)})

    def _reverted(self, error: ContractLogicError) -> Reverted:
        data = error.data if isinstance(error, ContractCustomError) else None
        if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
            raw = bytes.fromhex(data[2:])
            decoder = self._errors.get(raw[:4])
            if decoder is not None:
                name, types = decoder
                return Reverted(name, tuple(decode(types, raw[4:])))
        return Reverted("Reverted", (str(error),))


def _error_decoders(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    decoders = {}
    for item in abi:
        if item.get("type") == "error":
            types = [i["type"] for i in item["inputs"]]
            decoders[keccak(text=f"{item['name']}({','.join(types)})")[:4]] = (item["name"], types)
    return decoders

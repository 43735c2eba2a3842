"""The operator's hot key: sends the transactions the server relays or settles.

Every transaction is simulated first (eth_call), so a call the hub would refuse
comes back as `Reverted` with the hub's own error name and arguments, and costs
no gas. The nonce comes from the node's pending count under a lock: correct for
one sending process (the settlement work elects one leader).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_account import Account
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError

from app.chain import artifacts
from app.chain.hub import _node
from app.core.types import Address, to_address


class Reverted(Exception):
    """The hub (or the token it called) would revert with `error(*args)`."""

    def __init__(self, error: str, args: tuple[Any, ...]) -> None:
        super().__init__(f"{error}{args}")
        self.error = error
        self.args_ = args


@dataclass(frozen=True)
class Sent:
    tx_hash: bytes
    nonce: int


class Operator:
    def __init__(self, w3: Web3, hub_address: str, private_key: str) -> None:
        self._w3 = w3
        self._account = Account.from_key(private_key)
        self._hub = w3.eth.contract(
            address=Web3.to_checksum_address(hub_address), abi=artifacts.load("MicropaymentHub").abi
        )
        self._errors = _error_decoders(artifacts.load("MicropaymentHub").abi)
        self._lock = threading.Lock()

    @classmethod
    def connect(cls, rpc_url: str, hub_address: str, private_key: str, timeout: float = 30) -> Operator:
        provider = Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        return cls(Web3(provider), hub_address, private_key)

    @property
    def address(self) -> Address:
        return to_address(self._account.address)

    def register_signer(self, auth: tuple[Any, ...], payer_signature: bytes) -> Sent:
        return self.send(self._hub.functions.registerSigner(auth, payer_signature))

    def deposit_with_permit(
        self, payer: str, token: str, amount: int, deadline: int, v: int, r: bytes, s: bytes
    ) -> Sent:
        return self.send(self._hub.functions.depositWithPermit(payer, token, amount, deadline, v, r, s))

    def deposit_with_authorization(
        self,
        payer: str,
        token: str,
        amount: int,
        valid_after: int,
        valid_before: int,
        nonce: bytes,
        v: int,
        r: bytes,
        s: bytes,
    ) -> Sent:
        return self.send(
            self._hub.functions.depositWithAuthorization(
                payer, token, amount, valid_after, valid_before, nonce, v, r, s
            )
        )

    def send(self, call: ContractFunction) -> Sent:
        """Simulates, then signs and sends; returns without waiting for the receipt."""
        sender = self._account.address
        try:
            with _node(f"simulating {call.fn_name}"):
                call.call({"from": sender})
        except ContractLogicError as error:
            raise self._reverted(error) from error
        with self._lock, _node(f"sending {call.fn_name}"):
            nonce = self._w3.eth.get_transaction_count(sender, "pending")
            tx = call.build_transaction({"from": sender, "nonce": nonce})
            signed = self._account.sign_transaction(tx)
            tx_hash = self._w3.eth.send_raw_transaction(signed.raw_transaction)
        return Sent(tx_hash=bytes(tx_hash), nonce=nonce)

    def wait(self, sent: Sent, timeout: float = 120) -> bool:
        """Waits for the receipt; True if the transaction succeeded."""
        with _node("waiting for a receipt"):
            receipt = self._w3.eth.wait_for_transaction_receipt(HexBytes(sent.tx_hash), timeout=timeout)
        return bool(receipt["status"] == 1)

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
